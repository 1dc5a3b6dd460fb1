// A small validator for wire messages: each schema checks an unknown value and returns it typed.
// It throws DfsError BAD_REQUEST naming the offending field, so a peer learns what it got wrong.

import { DfsError } from './errors';

/** Where a value sits in a message; spelled out only when something is wrong, as that is rare. */
export type FieldPath = string | { parent: FieldPath; key: string | number };

export interface Schema<T> {
  parse(value: unknown, path: FieldPath): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function spell(path: FieldPath): string {
  if (typeof path === 'string') return path;
  return typeof path.key === 'number' ? `${spell(path.parent)}[${path.key}]` : `${spell(path.parent)}.${path.key}`;
}

function fail(path: FieldPath, expected: string): never {
  throw new DfsError('BAD_REQUEST', `${spell(path)}: expected ${expected}`);
}

export function str(options: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
  const { min = 0, max = 4096, pattern } = options;
  return {
    parse(value, path) {
      if (typeof value !== 'string') fail(path, 'a string');
      if (value.length < min || value.length > max) fail(path, `a string of ${min} to ${max} characters`);
      if (pattern && !pattern.test(value)) fail(path, `a string matching ${pattern}`);
      return value;
    },
  };
}

export function int(options: { min?: number; max?: number } = {}): Schema<number> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = options;
  return {
    parse(value, path) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(path, 'an integer');
      if (value < min || value > max) fail(path, `an integer from ${min} to ${max}`);
      return value;
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    parse(value, path) {
      if (typeof value !== 'boolean') fail(path, 'a boolean');
      return value;
    },
  };
}

export function literal<const T extends string>(...choices: T[]): Schema<T> {
  return {
    parse(value, path) {
      if (typeof value !== 'string' || !(choices as string[]).includes(value)) fail(path, `one of ${choices.join(', ')}`);
      return value as T;
    },
  };
}

export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return {
    parse(value, path) {
      return value === undefined || value === null ? undefined : schema.parse(value, path);
    },
  };
}

export function array<T>(item: Schema<T>, options: { max?: number } = {}): Schema<T[]> {
  const { max = 100_000 } = options;
  return {
    parse(value, path) {
      if (!Array.isArray(value)) fail(path, 'an array');
      if (value.length > max) fail(path, `at most ${max} items`);
      return value.map((element, index) => item.parse(element, { parent: path, key: index }));
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

/** An object with exactly these fields; unknown fields are dropped, not trusted. */
export function obj<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const fields = Object.entries(shape);
  return {
    parse(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object');
      const record = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [key, schema] of fields) {
        const parsed = schema.parse(record[key], { parent: path, key });
        if (parsed !== undefined) out[key] = parsed;
      }
      return out as ObjectOf<S>;
    },
  };
}

export const empty = obj({});
