// Edits of well-formed values: JSON members by dotted path, bytes, session tokens, WebAuthn
// responses and their CBOR attestation object. Each edit is a plain value (drawn by
// arbitraries.ts, so fast-check can print and shrink it), applied here.
import { isoBase64URL, isoCBOR, isoUint8Array } from '@simplewebauthn/server/helpers';
import { b64, BASE64URL, bytesOf } from './bytes.js';
import type { World } from './world.js';

function getAt(value: unknown, path: string): unknown {
  return path.split('.').reduce<any>((node, key) => (node === null || typeof node !== 'object' ? undefined : node[key]), value);
}

/** A copy of `value` with `path` set to `next` (or removed when `next` is undefined). */
export function setAt<T>(value: T, path: string, next: unknown): T {
  const copy = structuredClone(value) as any;
  const keys = path.split('.');
  const last = keys.pop()!;
  let node = copy;
  for (const key of keys) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key];
  }
  if (next === undefined) delete node[last];
  else Object.defineProperty(node, last, { value: next, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Every member of every object inside `value`, as dotted paths. */
export function pathsOf(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...pathsOf(child, path)];
  });
}

export type ByteEdit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'remove'; at: number; count: number };

function editBytes(bytes: ArrayLike<number>, edit: ByteEdit): Uint8Array<ArrayBuffer> {
  const out = Uint8Array.from(bytes);
  const at = (n: number) => (out.length === 0 ? 0 : n % out.length);
  switch (edit.kind) {
    case 'flip':
      if (out.length > 0) out[at(edit.at)]! ^= 1 << edit.bit;
      return out;
    case 'set':
      if (out.length > 0) out[at(edit.at)] = edit.value;
      return out;
    case 'truncate':
      return out.subarray(0, out.length === 0 ? 0 : edit.keep % out.length);
    case 'append':
      return isoUint8Array.concat([out, bytesOf(edit.bytes)]);
    case 'remove':
      return isoUint8Array.concat([out.subarray(0, at(edit.at)), out.subarray(at(edit.at) + edit.count)]);
  }
}

/** How a token is mangled; applied to the live token when the request is made. */
export type TokenEdit =
  | { kind: 'same' }
  | { kind: 'char'; at: number; char: string }
  | { kind: 'truncate'; keep: number }
  | { kind: 'append'; text: string }
  | { kind: 'segment'; index: number; value: string }
  | { kind: 'segments'; order: number[] }
  | { kind: 'signature-spare-bits'; bits: number } // only the unused bits of the last character
  | { kind: 'forged'; index: number }
  | { kind: 'random'; text: string };

export function editToken(world: World, token: string, edit: TokenEdit): string {
  const at = (n: number) => n % token.length;
  const segments = token.split('.');
  switch (edit.kind) {
    case 'same':
      return token;
    case 'char':
      return token.slice(0, at(edit.at)) + edit.char + token.slice(at(edit.at) + 1);
    case 'truncate':
      return token.slice(0, at(edit.keep));
    case 'append':
      return token + edit.text;
    case 'segment':
      return segments.map((segment, i) => (i === edit.index ? edit.value : segment)).join('.');
    case 'segments':
      return edit.order.map((i) => segments[i]).join('.');
    case 'signature-spare-bits': {
      // An ES256 signature is 64 bytes: its last base64url character carries 2 bits and 4 spare ones.
      const last = BASE64URL.indexOf(token.at(-1)!);
      return token.slice(0, -1) + BASE64URL[(last & ~0x0f) | edit.bits];
    }
    case 'forged':
      return world.forgedTokens[edit.index % world.forgedTokens.length]!;
    case 'random':
      return edit.text;
  }
}

export type ResponseMutation =
  | { kind: 'delete'; path: string }
  | { kind: 'replace'; path: string; value: unknown }
  | { kind: 'base64url'; path: string; value: string }
  | { kind: 'bytes'; path: string; edit: ByteEdit }
  | { kind: 'extra'; path: string; key: string; value: unknown }
  | { kind: 'clientData'; key: string; value: unknown };

export interface ResponseShape {
  paths: string[]; // every member
  base64url: string[]; // members that hold base64url
  objects: string[]; // members that hold objects ('' is the body itself)
  clientData: string; // where clientDataJSON is
}

export const registrationShape: ResponseShape = {
  paths: [
    'challengeId',
    'name',
    'registration',
    'registration.id',
    'registration.rawId',
    'registration.type',
    'registration.response',
    'registration.response.clientDataJSON',
    'registration.response.attestationObject',
    'registration.response.authenticatorData',
    'registration.response.transports',
    'registration.response.publicKeyAlgorithm',
    'registration.response.publicKey',
    'registration.authenticatorAttachment',
    'registration.clientExtensionResults',
  ],
  base64url: [
    'registration.id',
    'registration.rawId',
    'registration.response.clientDataJSON',
    'registration.response.attestationObject',
    'registration.response.authenticatorData',
    'registration.response.publicKey',
  ],
  objects: ['', 'registration', 'registration.response', 'registration.clientExtensionResults'],
  clientData: 'registration.response.clientDataJSON',
};

export const authenticationShape: ResponseShape = {
  paths: [
    'challengeId',
    'authentication',
    'authentication.id',
    'authentication.rawId',
    'authentication.type',
    'authentication.response',
    'authentication.response.clientDataJSON',
    'authentication.response.authenticatorData',
    'authentication.response.signature',
    'authentication.response.userHandle',
    'authentication.authenticatorAttachment',
    'authentication.clientExtensionResults',
  ],
  base64url: [
    'authentication.id',
    'authentication.rawId',
    'authentication.response.clientDataJSON',
    'authentication.response.authenticatorData',
    'authentication.response.signature',
    'authentication.response.userHandle',
  ],
  objects: ['', 'authentication', 'authentication.response', 'authentication.clientExtensionResults'],
  clientData: 'authentication.response.clientDataJSON',
};

export function mutateResponse<T>(body: T, shape: ResponseShape, mutation: ResponseMutation): T {
  switch (mutation.kind) {
    case 'delete':
      return setAt(body, mutation.path, undefined);
    case 'replace':
    case 'base64url':
      return setAt(body, mutation.path, mutation.value);
    case 'bytes': {
      const value = getAt(body, mutation.path);
      if (typeof value !== 'string') return body;
      return setAt(body, mutation.path, b64(editBytes(isoBase64URL.toBuffer(value), mutation.edit)));
    }
    case 'extra':
      return setAt(body, mutation.path ? `${mutation.path}.${mutation.key}` : mutation.key, mutation.value);
    case 'clientData': {
      const clientData = JSON.parse(isoBase64URL.toUTF8String(getAt(body, shape.clientData) as string));
      const next = setAt(clientData, mutation.key, mutation.value);
      return setAt(body, shape.clientData, isoBase64URL.fromUTF8String(JSON.stringify(next)));
    }
  }
}

/** Edits of the CBOR attestation object (registration only). */
export type AttestationEdit =
  | { kind: 'random-cbor'; value: unknown }
  | { kind: 'random-bytes'; bytes: Uint8Array }
  | { kind: 'truncate'; keep: number }
  | { kind: 'entry'; key: string; value: unknown }
  | { kind: 'auth-data'; edit: ByteEdit }
  | { kind: 'flag'; bit: number }
  | { kind: 'public-key'; key: number; value: unknown };

export function editAttestation(attestationObject: string, edit: AttestationEdit): string {
  const bytes = isoBase64URL.toBuffer(attestationObject);
  switch (edit.kind) {
    case 'random-cbor':
      return b64(isoCBOR.encode(edit.value as never));
    case 'random-bytes':
      return b64(edit.bytes);
    case 'truncate':
      return b64(bytes.subarray(0, edit.keep % bytes.length));
    default:
      break;
  }
  const attestation = isoCBOR.decodeFirst<Map<string, unknown>>(bytes);
  const authData = Uint8Array.from(attestation.get('authData') as Uint8Array);
  if (edit.kind === 'entry') {
    if (edit.value === undefined) attestation.delete(edit.key);
    else attestation.set(edit.key, edit.value);
  } else if (edit.kind === 'auth-data') {
    attestation.set('authData', editBytes(authData, edit.edit));
  } else if (edit.kind === 'flag') {
    authData[32]! ^= 1 << edit.bit;
    attestation.set('authData', authData);
  } else {
    // rpIdHash(32) flags(1) counter(4) aaguid(16) idLength(2) id | COSE public key
    const keyStart = 55 + ((authData[53]! << 8) | authData[54]!);
    const publicKey = isoCBOR.decodeFirst<Map<number, unknown>>(authData.subarray(keyStart));
    if (edit.value === undefined) publicKey.delete(edit.key);
    else publicKey.set(edit.key, edit.value);
    attestation.set('authData', isoUint8Array.concat([authData.subarray(0, keyStart), isoCBOR.encode(publicKey as never)]));
  }
  return b64(isoCBOR.encode(attestation as never));
}
