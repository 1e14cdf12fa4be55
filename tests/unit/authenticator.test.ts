import { describe, expect, it } from 'vitest';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { SoftAuthenticator, type Algorithm, type AuthenticatorOptions } from '../helpers/authenticator.js';

const ORIGIN = 'http://localhost:3000';
const RP_ID = 'localhost';

function registrationOptions(extra: Partial<Parameters<typeof generateRegistrationOptions>[0]> = {}) {
  return generateRegistrationOptions({ rpName: 'Test', rpID: RP_ID, userName: 'alice', ...extra });
}

function verifyRegistration(response: RegistrationResponseJSON, options: PublicKeyCredentialCreationOptionsJSON) {
  return verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
  });
}

/** Registers one credential and returns a verifier for assertions against it. */
async function registered(options: AuthenticatorOptions = {}) {
  const authenticator = new SoftAuthenticator(options);
  const regOptions = await registrationOptions();
  const { registrationInfo } = await verifyRegistration(await authenticator.createCredential(regOptions), regOptions);
  const credential = registrationInfo!.credential;
  const challenge = (await generateAuthenticationOptions({ rpID: RP_ID })).challenge;
  const verify = (response: AuthenticationResponseJSON, storedCounter = credential.counter) =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential: { ...credential, counter: storedCounter },
    });
  const requestOptions = { challenge, rpId: RP_ID, allowCredentials: [{ id: credential.id, type: 'public-key' as const }] };
  return { authenticator, credential, stored: authenticator.credentials[0]!, requestOptions, verify };
}

describe.each<Algorithm>(['ES256', 'Ed25519'])('happy path with %s', (algorithm) => {
  it('registers and authenticates', async () => {
    const authenticator = new SoftAuthenticator({ algorithm });
    const regOptions = await registrationOptions();
    const registration = await authenticator.createCredential(regOptions);
    const { verified, registrationInfo } = await verifyRegistration(registration, regOptions);

    expect(verified).toBe(true);
    expect(registration.response.publicKeyAlgorithm).toBe(algorithm === 'ES256' ? -7 : -8);
    expect(registrationInfo!.fmt).toBe('none');
    expect(registrationInfo!.aaguid).toBe('00000000-0000-0000-0000-000000000000');
    expect(registrationInfo!.userVerified).toBe(true);
    expect(registrationInfo!.credentialDeviceType).toBe('singleDevice');
    expect(registrationInfo!.credential.counter).toBe(0);
    expect(registrationInfo!.credential.transports).toEqual(['internal', 'hybrid']);
    expect(registrationInfo!.credential.id).toBe(registration.id);
    expect(Buffer.from(registrationInfo!.credential.publicKey)).toEqual(Buffer.from(authenticator.credentials[0]!.publicKey));

    const stored = authenticator.credentials[0]!;
    expect(stored).toMatchObject({ id: registration.id, rpId: RP_ID, userHandle: regOptions.user.id, algorithm });
    expect(Buffer.from(stored.idHex, 'hex').toString('base64url')).toBe(stored.id);

    const authOptions = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [{ id: stored.id }] });
    const assertion = await authenticator.getAssertion(authOptions);
    const result = await verifyAuthenticationResponse({
      response: assertion,
      expectedChallenge: authOptions.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential: registrationInfo!.credential,
    });
    expect(result.verified).toBe(true);
    expect(result.authenticationInfo.newCounter).toBe(1);
    expect(assertion.response.userHandle).toBe(regOptions.user.id);
  });
});

describe('authenticator options', () => {
  it('reports aaguid and backup flags', async () => {
    const authenticator = new SoftAuthenticator({
      aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd',
      backupEligible: true,
      backedUp: true,
      transports: ['usb'],
    });
    const options = await registrationOptions();
    const { registrationInfo } = await verifyRegistration(await authenticator.createCredential(options), options);
    expect(registrationInfo).toMatchObject({
      aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd',
      credentialDeviceType: 'multiDevice',
      credentialBackedUp: true,
      credential: { transports: ['usb'] },
    });
  });

  it('without UV, fails only when UV is required', async () => {
    const authenticator = new SoftAuthenticator({ userVerification: false });
    const options = await registrationOptions();
    const response = await authenticator.createCredential(options);
    await expect(verifyRegistration(response, options)).rejects.toThrow(/User verification was required/);
    const { registrationInfo } = await verifyRegistrationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      requireUserVerification: false,
    });
    expect(registrationInfo!.userVerified).toBe(false);
  });

  it('counts signatures from counterStart', async () => {
    const { authenticator, requestOptions, verify, stored } = await registered({ counterStart: 10 });
    const first = await verify(await authenticator.getAssertion(requestOptions));
    expect(first.authenticationInfo.newCounter).toBe(11);
    const second = await verify(await authenticator.getAssertion(requestOptions), 11);
    expect(second.authenticationInfo.newCounter).toBe(12);
    expect(stored.signCount).toBe(12);
  });

  it('reports 0 forever when countSignatures is false', async () => {
    const { authenticator, requestOptions, verify } = await registered({ countSignatures: false, counterStart: 5 });
    for (let i = 0; i < 2; i++) {
      const { verified, authenticationInfo } = await verify(await authenticator.getAssertion(requestOptions));
      expect(verified).toBe(true);
      expect(authenticationInfo.newCounter).toBe(0);
    }
  });

  it('uses its origin in clientDataJSON', async () => {
    const authenticator = new SoftAuthenticator({ origin: 'https://example.com' });
    const options = await registrationOptions({ rpID: 'example.com' });
    const { registrationInfo } = await verifyRegistrationResponse({
      response: await authenticator.createCredential(options),
      expectedChallenge: options.challenge,
      expectedOrigin: 'https://example.com',
      expectedRPID: 'example.com',
    });
    expect(registrationInfo!.origin).toBe('https://example.com');
  });
});

describe('createCredential', () => {
  it('throws InvalidStateError for an excluded credential', async () => {
    const authenticator = new SoftAuthenticator();
    await authenticator.createCredential(await registrationOptions());
    const options = await registrationOptions({ excludeCredentials: [{ id: authenticator.credentials[0]!.id }] });
    await expect(authenticator.createCredential(options)).rejects.toMatchObject({ name: 'InvalidStateError' });
  });

  it('throws when its algorithm is not offered', async () => {
    const authenticator = new SoftAuthenticator({ algorithm: 'Ed25519' });
    const options = await registrationOptions({ supportedAlgorithmIDs: [-7] });
    await expect(authenticator.createCredential(options)).rejects.toThrow(/does not offer Ed25519/);
  });

  it.each([
    ['origin', { origin: 'https://evil.example' }, /Unexpected registration response origin/],
    ['rpId', { rpId: 'evil.example' }, /Unexpected RP ID hash/],
    ['type', { type: 'webauthn.get' }, /Unexpected registration response type/],
    ['challenge', { challenge: 'AAAA' }, /Unexpected registration response challenge/],
    ['userPresent', { userPresent: false }, /User presence was required/],
    ['userVerified', { userVerified: false }, /User verification was required/],
  ])('tamper %s makes verification fail', async (_, tamper, error) => {
    const options = await registrationOptions();
    const response = await new SoftAuthenticator().createCredential(options, tamper);
    await expect(verifyRegistration(response, options)).rejects.toThrow(error);
  });
});

describe('getAssertion', () => {
  it('picks a discoverable credential for the rpId and throws NotAllowedError otherwise', async () => {
    const { authenticator, requestOptions, verify } = await registered();
    const discoverable = await authenticator.getAssertion({ challenge: requestOptions.challenge, rpId: RP_ID });
    expect((await verify(discoverable)).verified).toBe(true);

    await expect(authenticator.getAssertion({ ...requestOptions, rpId: 'other.example' })).rejects.toMatchObject({
      name: 'NotAllowedError',
    });
    const unknown = { ...requestOptions, allowCredentials: [{ id: 'AAAA', type: 'public-key' as const }] };
    await expect(authenticator.getAssertion(unknown)).rejects.toMatchObject({ name: 'NotAllowedError' });
  });

  it('signs with the forced credential, else with the most recent matching one', async () => {
    const { authenticator, requestOptions, stored } = await registered();
    await authenticator.createCredential(await registrationOptions());
    const newest = authenticator.credentials[1]!;
    const discoverable = { challenge: requestOptions.challenge, rpId: RP_ID };
    expect((await authenticator.getAssertion(discoverable)).id).toBe(newest.id);
    expect((await authenticator.getAssertion(discoverable, {}, stored)).id).toBe(stored.id);
    expect((await authenticator.getAssertion(requestOptions)).id).toBe(stored.id);
  });

  it.each([
    ['origin', { origin: 'https://evil.example' }, /Unexpected authentication response origin/],
    ['rpId', { rpId: 'evil.example' }, /Unexpected RP ID hash/],
    ['type', { type: 'webauthn.create' }, /Unexpected authentication response type/],
    ['challenge', { challenge: 'AAAA' }, /Unexpected authentication response challenge/],
    ['userPresent', { userPresent: false }, /User not present/],
    ['userVerified', { userVerified: false }, /User verification required/],
  ])('tamper %s makes verification fail', async (_, tamper, error) => {
    const { authenticator, requestOptions, verify } = await registered();
    await expect(verify(await authenticator.getAssertion(requestOptions, tamper))).rejects.toThrow(error);
  });

  it.each<Algorithm>(['ES256', 'Ed25519'])('tamper flipSignatureBit makes the %s signature invalid', async (algorithm) => {
    const { authenticator, requestOptions, verify } = await registered({ algorithm });
    const { verified } = await verify(await authenticator.getAssertion(requestOptions, { flipSignatureBit: true }));
    expect(verified).toBe(false);
  });

  it('tamper counter sets signCount without advancing it', async () => {
    const { authenticator, requestOptions, verify, stored } = await registered();
    const { authenticationInfo } = await verify(await authenticator.getAssertion(requestOptions, { counter: 42 }));
    expect(authenticationInfo.newCounter).toBe(42);
    expect(stored.signCount).toBe(0);
    await expect(verify(await authenticator.getAssertion(requestOptions, { counter: 3 }), 5)).rejects.toThrow(/counter value 3 was lower than expected 5/);
  });

  it('tamper userHandle replaces or omits it (the library does not check it)', async () => {
    const { authenticator, requestOptions, verify } = await registered();
    const other = await authenticator.getAssertion(requestOptions, { userHandle: 'b3RoZXI' });
    expect(other.response.userHandle).toBe('b3RoZXI');
    expect((await verify(other)).verified).toBe(true);
    const omitted = await authenticator.getAssertion(requestOptions, { userHandle: null });
    expect('userHandle' in omitted.response).toBe(false);
  });

  it('tamper credentialId sends another id, signed by the real credential', async () => {
    const { authenticator, requestOptions, verify, stored } = await registered();
    const assertion = await authenticator.getAssertion(requestOptions, { credentialId: 'AAAA' });
    expect(assertion).toMatchObject({ id: 'AAAA', rawId: 'AAAA' });
    // verifyAuthenticationResponse trusts the credential it is given; the server must look the id up.
    expect((await verify(assertion)).verified).toBe(true);
    expect(stored.signCount).toBe(1);
  });
});
