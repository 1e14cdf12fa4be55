// The embeddable sign-up/sign-in form. A page on an origin the service lists in
// ORIGINS adds one script and one element:
//   <script src="https://passkeys.example.com/embed.js" data-target="#sign-in" defer></script>
//   <div id="sign-in"></div>
// The form renders in the element's shadow root: `all: initial` keeps the page's
// styles out, and the shadow root keeps ours in. The element then dispatches
//   passkey:signed-in  detail { userId, token, expiresAt }  after a sign-up or sign-in
//   passkey:error      detail { code, message }             when one fails
// both bubbling out of the shadow root. Where the browser supports it, the Email field
// also offers the site's passkeys in its autofill. Styles are a constructed stylesheet and
// the markup is built with DOM calls, so a strict CSP on the page needs nothing
// beyond allowing this script and requests to the service (script-src, connect-src).
// /embed.js serves this file inside one function, after web/passkeys.js and `embedCss`
// (the text of web/embed.css).

const script = document.currentScript;
if (!script) throw new Error('passkey form: load embed.js with a classic <script src> tag, not as a module');
const serviceUrl = new URL('./', script.src);
const api = createPasskeyClient(serviceUrl);
const targetSelector = script.dataset.target || '#passkey-form';

const styles = new CSSStyleSheet();
styles.replaceSync(embedCss);

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function mount(host) {
  if (host.shadowRoot) return; // rendered already: the script was included twice
  const root = host.attachShadow({ mode: 'open' });
  root.adoptedStyleSheets = [styles];

  const email = element('input', {
    id: 'email',
    type: 'email',
    name: 'email',
    autocomplete: 'username webauthn',
    inputmode: 'email',
    autocapitalize: 'none',
    spellcheck: 'false',
    placeholder: 'name@example.com',
    'aria-describedby': 'hint',
  });
  const status = element('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const form = element(
    'form',
    { novalidate: '' },
    element('label', { for: 'email' }, 'Email'),
    email,
    element('p', { id: 'hint', class: 'hint' }, 'Signing in? You can leave it empty and pick a passkey.'),
    // Enter in the field submits with the first button: Sign in.
    element(
      'div',
      { class: 'actions' },
      element('button', { type: 'submit', class: 'primary', value: 'sign-in' }, 'Sign in'),
      element('button', { type: 'submit', value: 'sign-up' }, 'Sign up'),
    ),
    status,
  );
  root.append(form);

  const say = (tone, text) => {
    status.className = `status ${tone}`;
    status.textContent = text;
  };
  const fail = (problem) => {
    email.setAttribute('aria-invalid', String(problem.code === 'invalid_email'));
    say('error', problem.message);
    host.dispatchEvent(new CustomEvent('passkey:error', { bubbles: true, composed: true, detail: problem }));
  };

  if (!SimpleWebAuthnBrowser.browserSupportsWebAuthn()) say('error', unsupportedBrowser.message);

  let busy = false;
  let signedIn = false;
  // One ceremony at a time; what it ends with is said and dispatched.
  async function run(ceremony, action) {
    busy = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const { userId, token, expiresAt } = await action();
      signedIn = true;
      say('success', `Signed in as ${decodeTokenClaims(token).email}.`);
      host.dispatchEvent(new CustomEvent('passkey:signed-in', { bubbles: true, composed: true, detail: { userId, token, expiresAt } }));
    } catch (error) {
      const problem = describeError(error, ceremony);
      if (problem?.code === 'unreachable') {
        console.warn(`passkey form: no answer from ${serviceUrl}. If the service is up, add this page's origin (${location.origin}) to its ORIGINS.`);
      }
      if (problem) fail(problem);
    } finally {
      busy = false;
      form.removeAttribute('aria-busy');
    }
  }

  // Autofill (conditional UI), in the first form of the page only: a browser takes one
  // such request at a time. It is offered again after a button's ceremony that did not
  // sign the person in.
  const offersAutofill = !autofillTaken;
  autofillTaken = true;
  const offerAutofill = createAutofill(api, {
    canOffer: () => !signedIn && !busy,
    signIn: (finish) => run('authentication', finish),
    fieldInShadowRoot: true,
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    const signingUp = event.submitter?.value === 'sign-up';
    const ceremony = signingUp ? 'registration' : 'authentication';
    if (!SimpleWebAuthnBrowser.browserSupportsWebAuthn()) return fail(unsupportedBrowser);
    // Sign-up needs an email; sign-in without one lets the person pick any passkey of this site.
    if ((signingUp || email.value !== '') && (email.value === '' || !email.validity.valid)) return fail(invalidEmail);

    email.setAttribute('aria-invalid', 'false');
    say('info', ceremonyPrompts[ceremony]);
    await run(ceremony, () => (signingUp ? api.signUp(email.value) : api.signIn(email.value)));
    if (offersAutofill) offerAutofill();
  });

  if (offersAutofill) offerAutofill();
}

let autofillTaken = false;

function mountAll() {
  const targets = document.querySelectorAll(targetSelector);
  if (targets.length === 0) console.error(`passkey form: no element matches data-target="${targetSelector}"`);
  targets.forEach(mount);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll, { once: true });
else mountAll();
