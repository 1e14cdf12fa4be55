// Bytes and their base64url text, as the WebAuthn JSON encodes them.
import { createHash } from 'node:crypto';
import { isoBase64URL, isoUint8Array } from '@simplewebauthn/server/helpers';

export const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export const sha256 = (data: string | Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
export const bytesOf = (data: ArrayLike<number>) => Uint8Array.from(data);
export const b64 = (bytes: ArrayLike<number>) => isoBase64URL.fromBuffer(bytesOf(bytes));

export const sameBytes = (a: unknown, b: unknown) =>
  typeof a === 'string' && typeof b === 'string' && isoUint8Array.areEqual(isoBase64URL.toBuffer(a), isoBase64URL.toBuffer(b));
