// The demo page: one Alpine component, registered for Alpine's CSP build (which
// never evaluates strings as code, so the page runs under script-src 'self').
// The session token lives in this component only, never in localStorage or a
// cookie: a reload signs out, and no script that runs later can find it there.
'use strict';

// An enrolment link (/?ticket=…) works once: the ticket leaves the address bar, and the
// history entry, as soon as this script runs, so Back, a reload, a bookmark or a shared
// screen does not carry a spent ticket on.
function takeTicketFromAddress() {
  const url = new URL(location.href);
  const ticket = url.searchParams.get('ticket');
  if (ticket === null) return null;
  url.searchParams.delete('ticket');
  history.replaceState(history.state, '', url);
  return ticket;
}

const enrolmentTicket = takeTicketFromAddress();

document.addEventListener('alpine:init', () => {
  const { browserSupportsWebAuthn } = SimpleWebAuthnBrowser;
  const api = createPasskeyClient(new URL('./', location.href));
  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const timeOfDay = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
  const relativeTime = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

  // "just now", "in 5 minutes", "2 hours ago", "in 3 days": rounded first, so 59.9 minutes is "1 hour".
  function relative(at, now) {
    const seconds = (at - now) / 1000;
    if (Math.abs(seconds) < 45) return seconds > 0 ? 'in less than a minute' : 'just now';
    const minutes = Math.round(seconds / 60);
    if (Math.abs(minutes) < 60) return relativeTime.format(minutes, 'minute');
    const hours = Math.round(seconds / 3_600);
    if (Math.abs(hours) < 24) return relativeTime.format(hours, 'hour');
    return relativeTime.format(Math.round(seconds / 86_400), 'day');
  }

  const focusById = (id) => document.getElementById(id)?.focus();

  // This page offers recovery, which the shared message (also the embeddable form's) cannot name.
  const accountExistsWithRecovery = 'An account with this email already exists. Choose Sign in, or “Lost your passkey?” if you no longer have its passkey.';

  Alpine.data('demo', () => ({
    supported: browserSupportsWebAuthn(),
    unsupportedMessage: unsupportedBrowser.message,
    email: '',
    emailInvalid: false,
    code: '', // a code from an email: the verification's or the recovery's, never both on screen
    codeInvalid: false,
    features: { recovery: false, emailsInLog: false }, // until GET /v1/features says otherwise
    recovery: null, // signed out, getting back in by email: { email, recoveryId, challenge }
    // Opened with an enrolment ticket: { ticket, email, challenge }. The ticket is kept until the
    // service has taken it; the challenge it buys shows the account's email and makes the passkey.
    enrolment: enrolmentTicket === null ? null : { ticket: enrolmentTicket, email: '', challenge: null },
    busy: false,
    status: { tone: 'info', text: '' },
    session: null, // { token, expiresAt, claims }
    profile: null,
    passkeys: [],
    sessions: [], // the account's live sessions, this one included
    renaming: null, // the id of the passkey whose name is being edited
    draftName: '',
    deleting: null, // the passkey the confirmation dialog asks about
    now: Date.now(),
    statusTimer: 0,
    startAutofill: () => {}, // offers this site's passkeys in the Email field's autofill: made by init()

    init() {
      // Keep what was typed (or restored by the browser) before this script ran.
      this.email = document.getElementById('email').value;
      // A sign-in through autofill that fails says why, and autofill is offered again.
      this.startAutofill = createAutofill(api, {
        canOffer: () => !this.session && !this.busy && !this.enrolment,
        signIn: (finish) =>
          this.run('authentication', async () => {
            await this.signedIn(await finish(), 'You are signed in.');
          }),
      });
      // Without an answer the page offers no recovery: the rest works all the same.
      api.features().then(
        (features) => {
          this.features = features;
        },
        () => {},
      );
      // Without WebAuthn here the ticket is left unused, to open on a browser that has it.
      if (!this.supported) return;
      setInterval(() => this.tick(), 15_000);
      if (this.enrolment) this.openEnrolment();
      else this.startAutofill();
    },

    // Moves the relative times on, and ends the session when its token expires.
    tick() {
      this.now = Date.now();
      if (this.session && this.now >= Date.parse(this.session.expiresAt)) this.endSession('error', serviceMessages.unauthorized);
    },

    // Successes clear themselves after a while; errors stay until replaced or dismissed.
    say(tone, text) {
      clearTimeout(this.statusTimer);
      this.status = { tone, text };
      if (tone === 'success') this.statusTimer = setTimeout(() => this.dismiss(), 8_000);
    },

    dismiss() {
      this.status = { tone: 'info', text: '' };
    },

    fail(error, ceremony) {
      const problem = describeError(error, ceremony);
      if (!problem) return;
      if (problem.code === 'session_expired') return this.endSession('error', problem.message);
      if (problem.code === 'invalid_code') this.codeInvalid = true;
      if (ceremony === 'enrolment' && enrolmentEnded(error)) {
        this.enrolment = null;
        this.$nextTick(() => focusById('signed-out-title'));
      }
      if (problem.code === 'recovery_disabled') {
        this.features.recovery = false;
        this.recovery = null;
      }
      this.say('error', problem.code === 'account_exists' && this.features.recovery ? accountExistsWithRecovery : problem.message);
    },

    // Runs one thing a person asked for; clicks while it runs do nothing.
    async run(ceremony, action) {
      if (this.busy) return;
      this.busy = true;
      try {
        await action();
      } catch (error) {
        this.fail(error, ceremony);
      } finally {
        this.busy = false;
      }
    },

    // A ceremony started by a button. It aborted any autofill request, so when it
    // ends without a session, autofill is offered again.
    async ceremony(kind, action) {
      if (!this.supported) return this.say('error', unsupportedBrowser.message);
      await this.run(kind, action);
      this.startAutofill();
    },

    // `input`: the Email field being used, the sign-in form's or the recovery's (both show `email`).
    validEmail(input = this.$refs.email) {
      this.emailInvalid = this.email === '' || !input.validity.valid;
      if (this.emailInvalid) {
        this.say('error', invalidEmail.message);
        input.focus();
      }
      return !this.emailInvalid;
    },

    // The code as the service reads it (spaces and dashes dropped), or null after saying what is wrong.
    validCode(inputId) {
      const code = this.code.replace(/[\s-]/g, '');
      this.codeInvalid = !/^\d{6}$/.test(code);
      if (!this.codeInvalid) return code;
      this.say('error', 'Enter the 6-digit code from the email.');
      focusById(inputId);
      return null;
    },

    // Enter in the Email field submits with the first button, Sign up.
    submit(event) {
      return event.submitter?.value === 'sign-in' ? this.signIn() : this.signUp();
    },

    signUp() {
      if (!this.validEmail()) return;
      return this.ceremony('registration', async () => {
        this.say('info', ceremonyPrompts.registration);
        await this.signedIn(await api.signUp(this.email), 'Welcome! Your passkey is saved and you are signed in.');
      });
    },

    // With an email, that account's passkeys; with none, any passkey of this site.
    signIn() {
      if (this.email !== '' && !this.validEmail()) return;
      return this.ceremony('authentication', () => this.signInWith(this.email));
    },

    signInWithPasskey() {
      return this.ceremony('authentication', () => this.signInWith(''));
    },

    async signInWith(email) {
      this.emailInvalid = false;
      this.say('info', ceremonyPrompts.authentication);
      await this.signedIn(await api.signIn(email), 'You are signed in.');
    },

    async signedIn({ token, expiresAt }, message) {
      const [profile, passkeys, sessions] = await Promise.all([api.profile(token), api.passkeys(token), api.sessions(token)]);
      Object.assign(this, { session: { token, expiresAt, claims: decodeTokenClaims(token) }, profile, passkeys, sessions });
      this.now = Date.now();
      this.say('success', message);
      this.$nextTick(() => focusById('account-title'));
    },

    endSession(tone, message) {
      Object.assign(this, { session: null, profile: null, passkeys: [], sessions: [], renaming: null, deleting: null, code: '', codeInvalid: false });
      this.say(tone, message);
      this.$nextTick(() => focusById('signed-out-title'));
      this.startAutofill();
    },

    async signOut() {
      if (this.busy || !this.session) return;
      const { token, expiresAt } = this.session;
      this.busy = true;
      const problem = await api.signOut(token).then(
        () => null,
        (error) => describeError(error),
      );
      this.busy = false;
      if (problem && problem.code !== 'session_expired') {
        const until = timeOfDay.format(Date.parse(expiresAt));
        const message = `You are signed out on this page, but the service could not end your session: it stays valid until ${until}.`;
        this.endSession('error', `${message} ${problem.message}`);
      } else {
        this.endSession('success', 'You are signed out.');
      }
    },

    // Proving the email ends this session and answers its successor, whose token says
    // email_verified: the page moves to it.
    verifyEmail() {
      const code = this.validCode('verify-code');
      if (!code) return;
      return this.run(undefined, async () => {
        const { token, expiresAt } = await api.verifyEmail(this.session.token, code).catch((error) => this.reloadIfVerified(error));
        this.session = { token, expiresAt, claims: decodeTokenClaims(token) };
        [this.profile, this.sessions] = await Promise.all([api.profile(token), api.sessions(token)]);
        this.code = '';
        this.say('success', 'Your email is verified.');
        this.$nextTick(() => focusById('account-title'));
      });
    },

    sendVerificationCode() {
      return this.run(undefined, async () => {
        await api.sendVerificationCode(this.session.token).catch((error) => this.reloadIfVerified(error));
        this.code = '';
        this.codeInvalid = false;
        this.say('success', `We sent a new code to ${this.profile.email}. Codes in earlier emails no longer work.`);
        focusById('verify-code');
      });
    },

    // Verified meanwhile (in another tab): the profile says so, and the code form goes away.
    async reloadIfVerified(error) {
      if (error?.code === 'already_verified') this.profile = await api.profile(this.session.token);
      throw error;
    },

    // Getting back in without a passkey: a code sent to the account's email, then a new
    // passkey on this device, which signs the person in.
    openRecovery() {
      Object.assign(this, { recovery: { email: '', recoveryId: null, challenge: null }, code: '', codeInvalid: false, emailInvalid: false });
      this.dismiss();
      this.$nextTick(() => focusById('recovery-email'));
    },

    closeRecovery() {
      this.recovery = null;
      this.dismiss();
      this.$nextTick(() => focusById('signed-out-title'));
      this.startAutofill();
    },

    sendRecoveryCode() {
      if (!this.validEmail(document.getElementById('recovery-email'))) return;
      return this.requestRecoveryCode(this.email, 'Check your email for the code.');
    },

    resendRecoveryCode() {
      return this.requestRecoveryCode(this.recovery.email, 'A new code is on its way. Codes in earlier emails no longer work.');
    },

    requestRecoveryCode(email, message) {
      return this.run(undefined, async () => {
        const { recoveryId } = await api.startRecovery(email);
        Object.assign(this, { recovery: { email, recoveryId, challenge: null }, code: '', codeInvalid: false });
        this.say('success', message);
        this.$nextTick(() => focusById('recovery-code'));
      });
    },

    // A proven code is used up: the challenge it bought is kept, so a passkey prompt that
    // was cancelled is offered again by Continue. A challenge the service refused is
    // dropped, and Continue then asks about the code again (which says to send a new one).
    continueRecovery() {
      const code = this.validCode('recovery-code');
      if (!code) return;
      return this.ceremony('registration', async () => {
        const recovery = this.recovery;
        recovery.challenge ??= await api.proveRecovery(recovery.recoveryId, code);
        this.say('info', ceremonyPrompts.registration);
        const finished = await api.finishRecovery(recovery.challenge).catch((error) => {
          if (error instanceof ServiceError) recovery.challenge = null;
          throw error;
        });
        Object.assign(this, { recovery: null, code: '' });
        await this.signedIn(finished, 'Welcome back! Your new passkey is saved and you are signed in.');
      });
    },

    // Enrolment by a ticket from the site's backend: the account exists, without a passkey.
    // The ticket is redeemed at once, as the challenge's options name the account; the
    // challenge lives CHALLENGE_TTL_SECONDS, so Create passkey can be pressed again after a
    // cancelled prompt. A refused ticket or a spent challenge ends it (fail), back to sign-in.
    openEnrolment() {
      return this.ceremony('enrolment', async () => {
        await this.redeemTicket();
        this.$nextTick(() => focusById('enrolment-title'));
      });
    },

    async redeemTicket() {
      const enrolment = this.enrolment;
      enrolment.challenge = await api.startEnrollment(enrolment.ticket);
      enrolment.ticket = null;
      enrolment.email = enrolment.challenge.options.user.name;
    },

    createEnrolmentPasskey() {
      return this.ceremony('enrolment', async () => {
        // No challenge yet: the start on opening got no answer, or was rate limited.
        if (!this.enrolment.challenge) await this.redeemTicket();
        this.say('info', ceremonyPrompts.registration);
        const finished = await api.finishEnrollment(this.enrolment.challenge);
        this.enrolment = null;
        await this.signedIn(finished, 'Welcome! Your passkey is saved and you are signed in.');
      });
    },

    // The heading's end, once the challenge has named the account.
    get enrolmentFor() {
      return this.enrolment.email ? ` for ${this.enrolment.email}` : '';
    },

    // Adding or deleting a passkey needs a recent passkey proof. When the service asks
    // for one, the person confirms with a passkey of this account (one browser prompt),
    // this page moves to the new session, ends the old one, and runs the action again.
    async withRecentProof(action) {
      try {
        return await action(this.session.token);
      } catch (error) {
        if (error?.code !== 'reauthentication_required') throw error;
      }
      this.say('info', ceremonyPrompts.reauthentication);
      const stale = this.session.token;
      const { token, expiresAt } = await api.signIn(this.profile.email);
      this.session = { token, expiresAt, claims: decodeTokenClaims(token) };
      await api.signOut(stale).catch(() => {});
      const result = await action(token);
      this.sessions = await api.sessions(token);
      return result;
    },

    addPasskey() {
      return this.run('registration', async () => {
        this.say('info', ceremonyPrompts.registration);
        const credential = await this.withRecentProof((token) => api.addPasskey(token));
        const { token } = this.session;
        this.passkeys = await api.passkeys(token);
        this.say('success', 'Passkey added. Give it a name you will recognise.');
        this.startRename(credential);
      });
    },

    startRename(passkey) {
      this.renaming = passkey.id;
      this.draftName = passkey.name;
      this.$nextTick(() => {
        const input = document.getElementById(`rename-${passkey.id}`);
        input.focus();
        input.select();
      });
    },

    stopRename() {
      const id = this.renaming;
      this.renaming = null;
      this.$nextTick(() => focusById(`rename-button-${id}`));
    },

    saveName() {
      const { token } = this.session;
      const id = this.renaming;
      const name = this.draftName.trim();
      if (name === '') return this.say('error', 'Give the passkey a name, or choose Cancel.');
      if (name === this.passkeys.find((passkey) => passkey.id === id).name) return this.stopRename();
      return this.run(undefined, async () => {
        const renamed = await api.renamePasskey(token, id, name);
        this.passkeys = this.passkeys.map((passkey) => (passkey.id === id ? renamed : passkey));
        this.stopRename();
        this.say('success', `Passkey renamed to “${renamed.name}”.`);
      });
    },

    // The service refuses too; saying it here spares a pointless confirmation.
    askDelete(passkey) {
      if (this.passkeys.length === 1) return this.say('error', serviceMessages.last_credential);
      this.deleting = passkey;
      this.$refs.confirmDelete.showModal();
    },

    cancelDelete() {
      this.$refs.confirmDelete.close();
    },

    confirmDelete() {
      const passkey = this.deleting;
      this.$refs.confirmDelete.close();
      return this.run('authentication', async () => {
        // Already gone (deleted in another tab) is as good as deleted.
        await this.withRecentProof((token) =>
          api.deletePasskey(token, passkey.id).catch((error) => {
            if (error.code !== 'not_found') throw error;
          }),
        );
        const { token } = this.session;
        [this.passkeys, this.sessions] = await Promise.all([api.passkeys(token), api.sessions(token)]);
        const others = this.sessions.length > 1 ? ' If you do not recognise a session below, choose Sign out everywhere else.' : '';
        this.say('success', `Passkey “${passkey.name}” deleted. It may still be listed on its device, but it no longer signs in here.${others}`);
        this.$nextTick(() => focusById('passkeys-title'));
      });
    },

    // Another session of this account, ended at the service: its token stops working.
    endOtherSession(item) {
      const { token } = this.session;
      return this.run(undefined, async () => {
        await api.endSession(token, item.id).catch((error) => {
          if (error.code !== 'not_found') throw error;
        });
        this.sessions = await api.sessions(token);
        this.say('success', 'That session is signed out.');
      });
    },

    signOutEverywhereElse() {
      const { token } = this.session;
      return this.run(undefined, async () => {
        await api.endOtherSessions(token);
        this.sessions = await api.sessions(token);
        this.say('success', 'You are signed out everywhere else. Only this browser is still signed in.');
        this.$nextTick(() => focusById('sessions-title'));
      });
    },

    // "This browser", or the passkey that opened the session.
    sessionName(item) {
      if (item.current) return 'This browser';
      const passkey = this.passkeys.find((candidate) => candidate.id === item.credentialId);
      return passkey ? `Signed in with “${passkey.name}”` : 'Signed in with a passkey';
    },

    sessionMeta(item) {
      const from = item.ip ? ` from ${item.ip}` : '';
      return `Since ${this.formatDate(item.createdAt)}${from}`;
    },

    get emailStatus() {
      return this.profile.emailVerified ? 'Email verified' : 'Email not verified';
    },

    get emailBadge() {
      return this.profile.emailVerified ? 'badge badge-synced' : 'badge badge-unsynced';
    },

    get deletingName() {
      return this.deleting ? this.deleting.name : '';
    },

    get sessionEnds() {
      const at = Date.parse(this.session.expiresAt);
      return `${timeOfDay.format(at)} (${relative(at, this.now)})`;
    },

    get claims() {
      return Object.entries(this.session.claims).map(([name, value]) => ({
        name,
        value: ['iat', 'exp', 'nbf'].includes(name) ? `${value} (${dateTime.format(value * 1000)})` : String(value),
      }));
    },

    formatDate(iso) {
      return dateTime.format(Date.parse(iso));
    },

    lastUsed(passkey) {
      return passkey.lastUsedAt ? `Last used ${relative(Date.parse(passkey.lastUsedAt), this.now)}` : 'Never used';
    },

    // WebAuthn's backup flags: eligible (multiDevice) and, of those, backed up now.
    storage(passkey) {
      if (passkey.backedUp) return { kind: 'synced', label: 'Synced', hint: 'Backed up by a password manager and available on your other devices' };
      if (passkey.deviceType === 'multiDevice') {
        return { kind: 'unsynced', label: 'Not backed up yet', hint: 'Can be synced, but is on one device for now' };
      }
      return { kind: 'device-bound', label: 'Device-bound', hint: 'Lives on one device or security key only, and cannot be copied' };
    },
  }));
});
