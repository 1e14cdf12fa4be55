// The embeddable sign-up/sign-in form. A page on an origin the service lists in
// ORIGINS adds one script and one element:
//   <script src="https://passkeys.example.com/embed.js" data-target="#sign-in" defer></script>
//   <div id="sign-in"></div>
// The form renders in the element's shadow root: `all: initial` keeps the page's
// styles out, and the shadow root keeps ours in. With an enrolment ticket from the
// site's backend (data-ticket on the element, or on the script for the first element),
// it offers only to create that account's passkey. The element then dispatches
//   passkey:signed-in  detail { userId, token, expiresAt }  after a sign-up, sign-in or enrolment
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

  const status = element('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  let form; // the form on show: the enrolment's, or sign-up/sign-in's
  let email; // the Email field, once sign-up/sign-in is on show

  const say = (tone, text) => {
    status.className = `status ${tone}`;
    status.textContent = text;
  };
  const fail = (problem) => {
    email?.setAttribute('aria-invalid', String(problem.code === 'invalid_email'));
    say('error', problem.message);
    host.dispatchEvent(new CustomEvent('passkey:error', { bubbles: true, composed: true, detail: problem }));
  };

  if (!SimpleWebAuthnBrowser.browserSupportsWebAuthn()) say('error', unsupportedBrowser.message);

  let busy = false;
  let signedIn = false;
  // One ceremony at a time; what it ends with is said and dispatched. `action` resolves
  // to a session, or to nothing when it only prepared one (an enrolment's challenge).
  async function run(ceremony, action) {
    const busyForm = form;
    busy = true;
    busyForm.setAttribute('aria-busy', 'true');
    try {
      const session = await action();
      if (!session) return;
      const { userId, token, expiresAt } = session;
      signedIn = true;
      say('success', `Signed in as ${decodeTokenClaims(token).email}.`);
      host.dispatchEvent(new CustomEvent('passkey:signed-in', { bubbles: true, composed: true, detail: { userId, token, expiresAt } }));
    } catch (error) {
      const problem = describeError(error, ceremony);
      if (problem?.code === 'unreachable') {
        console.warn(`passkey form: no answer from ${serviceUrl}. If the service is up, add this page's origin (${location.origin}) to its ORIGINS.`);
      }
      if (problem) fail(problem);
      // Nothing left to enrol with: the person may have a passkey already, so sign-in takes over.
      if (ceremony === 'enrolment' && enrolmentEnded(error)) showSignIn();
    } finally {
      busy = false;
      busyForm.removeAttribute('aria-busy');
    }
  }

  // An enrolment ticket from the site's backend: the account exists, without a passkey. It
  // is redeemed at once, as the challenge's options name the account; the challenge lives
  // CHALLENGE_TTL_SECONDS, so Create passkey can be pressed again after a cancelled prompt.
  function showEnrolment(ticket) {
    const title = element('p', { id: 'title', class: 'title' }, 'Create your passkey');
    form = element(
      'form',
      { novalidate: '', 'aria-labelledby': 'title' },
      title,
      element('p', { class: 'hint' }, 'Your device keeps it and unlocks it with your fingerprint, face or screen lock: from then on, that is how you sign in.'),
      element('div', { class: 'actions single' }, element('button', { type: 'submit', class: 'primary' }, 'Create passkey')),
      status,
    );
    root.replaceChildren(form);

    let challenge = null;
    const redeem = async () => {
      challenge = await api.startEnrollment(ticket);
      title.textContent = `Create your passkey for ${challenge.options.user.name}`;
    };

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (busy || signedIn) return;
      if (!SimpleWebAuthnBrowser.browserSupportsWebAuthn()) return fail(unsupportedBrowser);
      await run('enrolment', async () => {
        // No challenge yet: the start on loading got no answer, or was rate limited.
        if (!challenge) await redeem();
        say('info', ceremonyPrompts.registration);
        return api.finishEnrollment(challenge);
      });
    });

    // Without WebAuthn here the ticket is left unused, to open on a browser that has it.
    if (SimpleWebAuthnBrowser.browserSupportsWebAuthn()) run('enrolment', redeem);
  }

  function showSignIn() {
    email = element('input', {
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
    form = element(
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
    root.replaceChildren(form);

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

  const ticket = host.dataset.ticket || takeScriptTicket();
  if (ticket) showEnrolment(ticket);
  else showSignIn();
}

// A ticket works once: the script's data-ticket goes to the first form without one of its own.
let scriptTicket = script.dataset.ticket;
function takeScriptTicket() {
  const ticket = scriptTicket;
  scriptTicket = undefined;
  return ticket;
}

let autofillTaken = false;

function mountAll() {
  const targets = document.querySelectorAll(targetSelector);
  if (targets.length === 0) console.error(`passkey form: no element matches data-target="${targetSelector}"`);
  targets.forEach(mount);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll, { once: true });
else mountAll();
