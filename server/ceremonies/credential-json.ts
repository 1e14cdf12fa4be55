import type { AuthenticatorTransport } from '@simplewebauthn/server';
import { isoBase64URL, isoUint8Array } from '@simplewebauthn/server/helpers';
import type { CredentialsTable } from '../db/schema.js';
import { parseTransports } from './transports.js';

export interface CredentialJSON {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  transports: AuthenticatorTransport[];
  aaguid: string;
}

export function toCredentialJSON(row: CredentialsTable): CredentialJSON {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    deviceType: row.device_type,
    backedUp: Boolean(row.backed_up),
    transports: parseTransports(row.transports),
    aaguid: row.aaguid,
  };
}

// As WebAuthn options want them: base64url ids with their transports.
export function toDescriptor(row: Pick<CredentialsTable, 'id' | 'transports'>) {
  return {
    id: isoBase64URL.fromBuffer(isoUint8Array.fromHex(row.id)),
    transports: parseTransports(row.transports),
  };
}

export const credentialIdToHex = (base64url: string) => isoUint8Array.toHex(isoBase64URL.toBuffer(base64url));
