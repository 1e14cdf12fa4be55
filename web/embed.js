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
// /embed.js serves this file inside one function, after web/passkeys.js.

const script = document.currentScript;
if (!script) throw new Error('passkey form: load embed.js with a classic <script src> tag, not as a module');
const serviceUrl = new URL('./', script.src);
const api = createPasskeyClient(serviceUrl);
const targetSelector = script.dataset.target || '#passkey-form';

const styles = new CSSStyleSheet();
styles.replaceSync(`
  :host { display: block; max-width: 26rem; }
  :host([hidden]) { display: none; }
  * { box-sizing: border-box; }
  /* The site's rules win over :host on the element holding the form, and what they
     set there would be inherited: the form starts from nothing instead. */
  form {
    all: initial;
    box-sizing: border-box;
    color: #1b1f2a;
    font: 16px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
    display: grid;
    gap: 0.4rem;
    padding: 1.25rem;
    border: 1px solid #dfe2ea;
    border-radius: 14px;
    background: #fff;
  }
  label { font-weight: 600; }
  input {
    width: 100%;
    min-height: 2.9rem;
    padding: 0.6rem 0.8rem;
    border: 1px solid #c9cedb;
    border-radius: 10px;
    background: #fff;
    color: inherit;
    font: inherit;
  }
  input[aria-invalid='true'] { border-color: #b42318; }
  .hint { margin: 0; color: #5a6273; font-size: 0.88rem; }
  .actions { display: grid; grid-template-columns: 1fr 1fr; gap: 0.6rem; margin-top: 0.6rem; }
  button {
    min-height: 2.9rem;
    padding: 0.55rem 1rem;
    border: 1px solid #c9cedb;
    border-radius: 10px;
    background: #fff;
    color: inherit;
    font: inherit;
    font-weight: 600;
    cursor: pointer;
  }
  button:hover { border-color: #5a6273; }
  button.primary {
    border-color: var(--passkey-accent, #4338ca);
    background: var(--passkey-accent, #4338ca);
    color: #fff;
  }
  :focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }
  input:focus-visible { outline-offset: 0; }
  .status { min-height: 2.8em; margin: 0.2rem 0 0; font-size: 0.92rem; }
  .status.error { color: #b42318; }
  .status.success { color: #0f7a55; }
`);

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
  const offersAutofill = !autofillTaken; // see offerAutofill
  autofillTaken = true;
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
    if (offersAutofill) offerAutofill();
  }

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
  });

  // Autofill (conditional UI), in the first form of the page only (a browser takes one
  // such request at a time): the browser lists this site's passkeys among the Email
  // field's suggestions. A button's ceremony aborts the request (SimpleWebAuthn does);
  // it is renewed before its challenge expires, and offered again after a ceremony
  // that did not sign the person in. A request that cannot start stays quiet.
  let autofillTimer;
  async function offerAutofill() {
    clearTimeout(autofillTimer);
    if (signedIn || busy || !(await SimpleWebAuthnBrowser.browserSupportsWebAuthnAutofill())) return;
    const started = await api.startSignIn().catch(() => null);
    if (!started || signedIn || busy) return;
    autofillTimer = setTimeout(offerAutofill, Math.max((started.options.timeout ?? 300_000) - 30_000, 30_000));
    let authentication;
    try {
      // The field is in a shadow root, where SimpleWebAuthn does not look for it.
      const request = { optionsJSON: started.options, useBrowserAutofill: true, verifyBrowserAutofillInput: false };
      authentication = await SimpleWebAuthnBrowser.startAuthentication(request);
    } catch {
      return;
    }
    clearTimeout(autofillTimer);
    await run('authentication', () => api.finishSignIn(started.challengeId, authentication));
  }
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
