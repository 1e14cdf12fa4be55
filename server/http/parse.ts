import type { Request } from 'express';
import type { z } from 'zod';
import { AppError } from '../errors.js';

export function parse<T extends z.ZodType>(schema: T, value: unknown, what = 'body'): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const detail = result.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || what}: ${issue.message}`)
      .join('; ');
    throw new AppError('invalid_request', detail);
  }
  return result.data;
}

/** A JSON body, or `{}` when the request has none. */
export const parseBody = <T extends z.ZodType>(schema: T, req: Request) => parse(schema, req.body ?? {});
