// The browser side of the passkey service, shared by the demo page and the
// embeddable form: the v1 API calls, the WebAuthn ceremonies (through
// SimpleWebAuthn), and a human message for every way they can fail. A classic
// script, not a module: the demo page loads it after the SimpleWebAuthn bundle,
// and /embed.js inlines both into one function scope.
'use strict';

/**
 * A failed call to the service: `code` is the contract's problem code, or `unreachable`;
 * `retryAfter` the seconds to wait that a 429 names.
 */
class ServiceError extends Error {
  constructor(code, status, detail, options) {
    super(detail || code, options);
    this.name = 'ServiceError';
    this.code = code;
    this.status = status;
    this.retryAfter = options?.retryAfter;
  }
}

/** The v1 API at `baseUrl` (a URL ending in `/`), with the ceremonies that need the browser. */
function createPasskeyClient(baseUrl) {
  const { startRegistration, startAuthentication } = SimpleWebAuthnBrowser;

  async function call(method, path, { token, body } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(new URL(path, baseUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (cause) {
      // Offline, service down, or (on another origin) an origin the service does not list.
      throw new ServiceError('unreachable', 0, `Could not reach ${baseUrl}`, { cause });
    }
    if (response.status === 204) return undefined;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const retryAfter = Number(response.headers.get('Retry-After')) || undefined;
      throw new ServiceError(data?.code ?? 'unexpected_response', response.status, data?.detail, { retryAfter });
    }
    return data;
  }

  const startSignIn = (email) => call('POST', 'v1/tokens', { body: email ? { email } : {} });
  const finishSignIn = (challengeId, authentication) => call('PUT', 'v1/tokens', { body: { challengeId, authentication } });

  // A challenge that a recovery code or an enrolment ticket bought: a new passkey that signs in.
  async function finishGranted({ challengeId, options }) {
    const registration = await startRegistration({ optionsJSON: options });
    return call('PUT', 'v1/challenges', { body: { challengeId, registration } });
  }

  return {
    /** A new account and its first passkey; resolves to { userId, token, expiresAt, credential }. */
    async signUp(email) {
      const { challengeId, options } = await call('POST', 'v1/challenges', { body: { email } });
      const registration = await startRegistration({ optionsJSON: options });
      return call('PUT', 'v1/challenges', { body: { challengeId, registration } });
    },
    /** With an email: that account's passkeys. Without: any passkey of this site. Resolves to { userId, token, expiresAt }. */
    async signIn(email) {
      const { challengeId, options } = await startSignIn(email);
      return finishSignIn(challengeId, await startAuthentication({ optionsJSON: options }));
    },
    // Autofill (conditional UI) runs its ceremony in two steps, so a page can stop between them.
    startSignIn,
    finishSignIn,
    /** Another passkey for the signed-in account; resolves to the new credential. */
    async addPasskey(token) {
      const { challengeId, options } = await call('POST', 'v1/challenges', { token, body: {} });
      const registration = await startRegistration({ optionsJSON: options });
      return (await call('PUT', 'v1/challenges', { token, body: { challengeId, registration } })).credential;
    },
    profile: (token) => call('GET', 'v1/me', { token }),
    passkeys: async (token) => (await call('GET', 'v1/credentials', { token })).credentials,
    renamePasskey: (token, id, name) => call('PATCH', `v1/credentials/${id}`, { token, body: { name } }),
    deletePasskey: (token, id) => call('DELETE', `v1/credentials/${id}`, { token }),
    sessions: async (token) => (await call('GET', 'v1/sessions', { token })).sessions,
    endSession: (token, id) => call('DELETE', `v1/sessions/${id}`, { token }),
    endOtherSessions: (token) => call('DELETE', 'v1/sessions', { token }),
    signOut: (token) => call('DELETE', 'v1/sessions/current', { token }),
    /** What the service offers: { recovery, emailsInLog }. */
    features: () => call('GET', 'v1/features'),
    /** A new code to the account's email; the previous one stops working. */
    sendVerificationCode: (token) => call('POST', 'v1/email-verification', { token, body: {} }),
    /** Proves the email; resolves to { userId, token, expiresAt }, a session that replaces the caller's. */
    verifyEmail: (token, code) => call('PUT', 'v1/email-verification', { token, body: { code } }),
    /** Emails a code if an account uses `email` (the answer is the same either way); resolves to { recoveryId }. */
    startRecovery: (email) => call('POST', 'v1/recovery', { body: { email } }),
    /** Uses the code up; resolves to { challengeId, options }, the challenge for the account's new passkey. */
    proveRecovery: (recoveryId, code) => call('PUT', 'v1/recovery', { body: { recoveryId, code } }),
    /** Creates the new passkey and signs in; resolves to { userId, token, expiresAt, credential }. */
    finishRecovery: finishGranted,
    /**
     * Uses the enrolment ticket (from the site's backend) up; resolves to { challengeId, options },
     * the challenge for the account's passkey, whose options.user.name is the account's email.
     */
    startEnrollment: (ticket) =>
      call('POST', 'v1/challenges', { body: { ticket } }).catch((error) => {
        // A ticket mangled on its way (cut short, wrong characters) is refused as a malformed
        // request: to the person it is the same dead link.
        if (error.code !== 'invalid_request') throw error;
        throw new ServiceError('invalid_ticket', error.status, error.message, { cause: error });
      }),
    /** Creates the passkey and signs in; resolves to { userId, token, expiresAt, credential }. */
    finishEnrollment: finishGranted,
  };
}

/** The claims of a session token (a JWT), decoded for display; the service verifies it, not us. */
function decodeTokenClaims(token) {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
}

const unsupportedBrowser = {
  code: 'unsupported',
  message: "This browser can't use passkeys here. Use a current browser, on a page served over https (or http://localhost).",
};

/** What to say while the browser's own passkey prompt is up. */
const ceremonyPrompts = {
  registration: 'Follow your browser to create a passkey…',
  authentication: 'Follow your browser to use your passkey…',
  reauthentication: 'Confirm it is you: follow your browser to use one of your passkeys…',
};

const invalidEmail = { code: 'invalid_email', message: 'Enter your email address, like name@example.com.' };

const serviceMessages = {
  unreachable: "Can't reach the passkey service. Check your connection and try again.",
  account_exists: 'An account with this email already exists. Choose Sign in instead.',
  unauthorized: 'Your session has ended. Sign in again.',
  authentication_failed: "Signing in with that passkey didn't work. It may have been removed from your account: try another passkey.",
  registration_failed: "Your passkey couldn't be registered. If it is registered already, sign in with it; otherwise try again, or use another device.",
  challenge_expired: 'That took too long and the request expired. Try again.',
  unknown_challenge: 'That took too long and the request expired. Try again.',
  last_credential: "You can't delete your only passkey: you couldn't sign in any more. Add another passkey first.",
  not_found: "That passkey doesn't exist any more.",
  reauthentication_required: 'To change your passkeys, confirm it is you with one of them first.',
  rate_limited: 'Too many attempts. Wait a minute, then try again.',
  invalid_code: 'That code is wrong or has expired. Check the latest email, or send a new code.',
  already_verified: 'Your email is verified already.',
  recovery_disabled: "This service doesn't offer getting back in by email. Sign in with a passkey you still have.",
  invalid_ticket: 'This enrolment link has been used or has expired. Ask for a new one.',
};

// The codes of a registration's finish that used its challenge up (the first finish that
// presents a challenge spends it, whatever then happens). In an enrolment the ticket went
// at the start, so nothing is left to try again with.
const spentChallenge = ['registration_failed', 'unknown_challenge', 'challenge_expired'];
const spentEnrolment = "Your passkey couldn't be created, and this enrolment link is now used up. Ask for a new one.";

/**
 * Whether an enrolment has nothing left to try again with: the ticket was refused, or the
 * challenge it bought was used up. Anything else (a cancelled prompt, no answer, 429) leaves
 * the challenge to be tried again.
 */
function enrolmentEnded(error) {
  return error instanceof ServiceError && (error.code === 'invalid_ticket' || spentChallenge.includes(error.code));
}

/** "42 seconds", "1 minute", "59 minutes": a wait that a 429's Retry-After names, rounded up to minutes past one. */
function waitText(seconds) {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/**
 * What to tell a person about a failure, as { code, message }; null when there is
 * nothing to say (a ceremony was aborted because the page started another one).
 * `ceremony` names what was attempted: 'registration', 'enrolment' (a registration by
 * ticket) or 'authentication'.
 */
function describeError(error, ceremony) {
  const creating = ceremony === 'registration' || ceremony === 'enrolment';
  if (error instanceof ServiceError) {
    const code = error.code === 'unauthorized' ? 'session_expired' : error.code;
    const waitFor = error.code === 'rate_limited' ? error.retryAfter : undefined;
    const message = waitFor
      ? `Too many attempts. Try again in ${waitText(waitFor)}.`
      : ceremony === 'enrolment' && spentChallenge.includes(error.code)
        ? spentEnrolment
        : (serviceMessages[error.code] ??
          (error.status >= 500 ? 'Something went wrong on our side. Try again in a moment.' : `The service refused this request: ${error.message}`));
    return { code, message };
  }
  switch (error?.name) {
    case 'AbortError':
      return null;
    case 'NotAllowedError':
      // The browser does not tell "cancelled" from "no passkey here", by design (privacy).
      return creating
        ? { code: 'cancelled', message: 'No passkey was created: the request was cancelled or timed out. Try again when you are ready.' }
        : {
            code: 'cancelled',
            message: 'No passkey was used: you cancelled, or this device has no passkey for this site. Try again, or sign up.',
          };
    case 'InvalidStateError':
      return { code: 'passkey_exists', message: 'This device already has a passkey for this account. Use another device or security key.' };
    case 'SecurityError':
      return {
        code: 'wrong_domain',
        message: `Passkeys of this service don't work on ${location.hostname}. Open the page at the service's own address.`,
      };
    case 'ConstraintError':
    case 'NotSupportedError':
      return { code: 'unsupported_authenticator', message: "This device can't create the kind of passkey needed here. Try another device." };
  }
  if (!SimpleWebAuthnBrowser.browserSupportsWebAuthn()) return unsupportedBrowser;
  console.error(error);
  return { code: 'unexpected', message: 'Something went wrong. Try again.' };
}

/**
 * Autofill (conditional UI): the browser lists this site's passkeys among the suggestions
 * of the field marked `autocomplete="username webauthn"`. Returns `offer()`, which starts
 * a usernameless sign-in and waits until a passkey is picked or a button's ceremony aborts
 * the request (SimpleWebAuthn does). The request is renewed before its challenge expires,
 * and offered again once `signIn` has run; `canOffer()` says no while signed in or busy.
 * A request that cannot start stays quiet and is not retried at once: the buttons work,
 * and say what is wrong.
 * `signIn(finish)` runs `finish()`, which resolves to { userId, token, expiresAt }, as the
 * page's own ceremony. `fieldInShadowRoot`: SimpleWebAuthn cannot look for the field there.
 */
function createAutofill(api, { canOffer, signIn, fieldInShadowRoot = false }) {
  const { browserSupportsWebAuthnAutofill, startAuthentication } = SimpleWebAuthnBrowser;
  let renewal;
  async function offer() {
    clearTimeout(renewal);
    if (!canOffer() || !(await browserSupportsWebAuthnAutofill())) return;
    const started = await api.startSignIn().catch(() => null);
    if (!started || !canOffer()) return;
    renewal = setTimeout(offer, Math.max((started.options.timeout ?? 300_000) - 30_000, 30_000));
    let authentication;
    try {
      const request = { optionsJSON: started.options, useBrowserAutofill: true, verifyBrowserAutofillInput: !fieldInShadowRoot };
      authentication = await startAuthentication(request);
    } catch {
      return;
    }
    clearTimeout(renewal);
    await signIn(() => api.finishSignIn(started.challengeId, authentication));
    offer(); // after a sign-in that failed (canOffer is false once signed in)
  }
  return offer;
}
