// A passkey's transports, in the one form the service keeps them: only values of the
// WebAuthn registry (WebAuthn §2.1.1 asks to accept and drop unknown ones, and no client
// may store a value of its own choosing for others to see), each once, stored as a
// sorted JSON array.
import type { AuthenticatorTransport } from '@simplewebauthn/server';

const registered: ReadonlySet<string> = new Set(['usb', 'nfc', 'ble', 'smart-card', 'hybrid', 'internal']);

/** The registry's values among what a client sent, each once; the rest dropped. */
export const registeredTransports = (list: readonly string[]): AuthenticatorTransport[] =>
  [...new Set(list.filter((value) => registered.has(value)))] as AuthenticatorTransport[];

/** As stored in credentials.transports. */
export const storedTransports = (list: readonly string[]): string => JSON.stringify([...list].sort());

/** Back from credentials.transports. */
export const parseTransports = (stored: string): AuthenticatorTransport[] => JSON.parse(stored) as AuthenticatorTransport[];
