import pino, { type Logger } from 'pino';

// JSON logs. Tokens, keys and credentials never go in: the redaction below is a
// second line of defence for headers.
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]'],
  });
}
