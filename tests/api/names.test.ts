// Names people read, wherever one is given (the display name at sign-up, a passkey's name
// at registration, a rename): the PRECIS Nickname profile. Invisible, control, formatting,
// unassigned and stacked characters -> 400 invalid_request and nothing stored; names in
// any script, with emoji, pass in their mapped form.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, signUp, SoftAuthenticator, startService, type TestService } from '../helpers/service.js';

let service: TestService;
let token: string;
let credentialId: string;
beforeEach(async () => {
  service = await startService();
  const owner = await signUp(service, new SoftAuthenticator(), 'owner@example.com');
  token = owner.token;
  credentialId = owner.credential.id;
});
afterEach(() => service.close());

/** The same name given at the three places that take one. */
async function nameEverywhere(name: string) {
  const displayName = await service.request('POST', '/v1/challenges', { email: 'display@example.com', displayName: name });
  const start = await service.request('POST', '/v1/challenges', { email: 'new@example.com' });
  const registration = await new SoftAuthenticator().createCredential(start.body.options);
  const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration, name });
  const rename = await service.request('PATCH', `/v1/credentials/${credentialId}`, { name }, bearer(token));
  return { displayName, finish, rename };
}

const cp = (code: number) => String.fromCodePoint(code);

describe('names refused -> 400 invalid_request at sign-up, registration and rename, nothing stored', () => {
  it.each<[string, string]>([
    ['a zero-width space (U+200B)', 'Ali\u200Bce'],
    ['a zero-width joiner between letters (U+200D)', 'Ali\u200Dce'],
    ['a zero-width non-joiner between Latin letters (U+200C)', 'Ali\u200Cce'],
    ['a word joiner (U+2060)', 'Ali\u2060ce'],
    ['a byte order mark (U+FEFF)', '\uFEFFAlice'],
    ['a soft hyphen (U+00AD)', 'Ali\u00ADce'],
    ['a combining grapheme joiner (U+034F)', 'Alice\u034F'],
    ['a Mongolian vowel separator (U+180E)', 'Ali\u180Ece'],
    ['tag characters (U+E0041)', `Alice${cp(0xe0041)}${cp(0xe007f)}`],
    ['an emoji tag sequence (the flag of England)', `${cp(0x1f3f4)}${cp(0xe0067)}${cp(0xe0062)}${cp(0xe0065)}${cp(0xe006e)}${cp(0xe0067)}${cp(0xe007f)} Phone`],
    ['an ideographic variation selector (U+E0100)', `\u845B${cp(0xe0100)}`],
    ['a line separator (U+2028)', 'Alice\u2028Admin'],
    ['a paragraph separator (U+2029)', 'Alice\u2029Admin'],
    ['a next-line control (U+0085)', 'Alice\u0085Admin'],
    ['a bell (U+0007)', '\u0007Alice'],
    ['a tab at the end (not trimmed away)', 'Alice\t'],
    ['a right-to-left override (U+202E)', '\u202Egnp.exe'],
    ['a right-to-left isolate (U+2067)', 'Alice\u2067'],
    ['an Arabic letter mark (U+061C)', 'Alice\u061C'],
    ['the Hangul choseong filler alone (U+115F)', '\u115F'],
    ['the Hangul jungseong filler alone (U+1160)', '\u1160'],
    ['the Hangul filler alone (U+3164)', '\u3164'],
    ['the halfwidth Hangul filler (U+FFA0), NFKC to U+3164', 'Alice\uFFA0'],
    ['old Hangul jamo (U+1113 U+1161)', '\u1113\u1161'],
    ['a private-use character (U+E000)', 'Alice\uE000'],
    ['an unassigned code point (U+0378)', 'Alice\u0378'],
    ['a noncharacter (U+FDD0)', 'Alice\uFDD0'],
    ['five combining marks in a row', 'q\u0350\u0351\u0352\u0357\u0358'],
    ['combining marks only', '\u0350\u0351'],
    ['spaces only (an ideographic and a no-break space)', '\u3000\u00A0'],
    ['an emoji ZWJ sequence (woman technologist)', `${cp(0x1f469)}\u200D${cp(0x1f4bb)}`],
  ])('%s', async (_name, name) => {
    const { displayName, finish, rename } = await nameEverywhere(name);
    for (const reply of [displayName, finish, rename]) {
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('invalid_request');
    }
    const users = await service.deps.db.selectFrom('users').select('email').execute();
    expect(users).toEqual([{ email: 'owner@example.com' }]);
    const credentials = await service.deps.db.selectFrom('credentials').select('name').execute();
    expect(credentials).toEqual([{ name: 'Passkey' }]);
  });
});

describe('names accepted, in their mapped form, at sign-up, registration and rename', () => {
  it.each<[string, string, string]>([
    ['accented Latin', 'Zoë Ångström', 'Zoë Ångström'],
    ['a decomposed accent (NFKC composes it)', 'Zoe\u0308', 'Zoë'],
    ['fullwidth Latin (NFKC)', 'Ｕｍａ', 'Uma'],
    ['Japanese with an ideographic space', '山田\u3000太郎', '山田 太郎'],
    ['Korean', '김민준', '김민준'],
    ['Chinese', '王小明', '王小明'],
    ['Greek and Cyrillic', 'Ελένη Дмитрий', 'Ελένη Дмитрий'],
    ['Arabic and Hebrew (no bidi controls needed)', 'محمد שרה', 'محمد שרה'],
    ['Devanagari with a virama', 'श्री', 'श्री'],
    ['Sinhala with a ZWJ after a virama (CONTEXTJ)', 'ශ්\u200Dරී', 'ශ්\u200Dරී'],
    ['Vietnamese with stacked accents', 'Nguyễn Thị Hương', 'Nguyễn Thị Hương'],
    ['four combining marks in a row', 'q\u0350\u0351\u0352\u0357', 'q\u0350\u0351\u0352\u0357'],
    ['an emoji', `${cp(0x1f511)} Work key`, `${cp(0x1f511)} Work key`],
    ['an emoji with a skin tone', `${cp(0x1f44d)}${cp(0x1f3fd)}`, `${cp(0x1f44d)}${cp(0x1f3fd)}`],
    ['a flag (regional indicators)', `${cp(0x1f1eb)}${cp(0x1f1f7)} Paris`, `${cp(0x1f1eb)}${cp(0x1f1f7)} Paris`],
    ['an emoji presentation selector (dropped)', '\u2764\uFE0F Phone', '\u2764 Phone'],
    ['a keycap (its selector dropped)', '1\uFE0F\u20E3', '1\u20E3'],
    ['non-ASCII spaces, runs and ends', ' \u2003Bob\u00A0\u00A0 Smith\u202F', 'Bob Smith'],
  ])('%s', async (_name, name, stored) => {
    const { displayName, finish, rename } = await nameEverywhere(name);
    expect(displayName.status).toBe(200);
    expect(displayName.body.options.user.displayName).toBe(stored);
    expect(finish.status).toBe(201);
    expect(finish.body.credential.name).toBe(stored);
    expect(rename.status).toBe(200);
    expect(rename.body.name).toBe(stored);
    const names = await service.deps.db.selectFrom('credentials').select('name').execute();
    expect(names.map((row) => row.name)).toEqual([stored, stored]);
  });
});
