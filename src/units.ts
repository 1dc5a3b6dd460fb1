// Sizes and durations as people write and read them: the one parser and printer for both.

import { DfsError } from './wire/errors';

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };

/** "1536", "10K", "1.5G", "2TiB", "100MB" → bytes (binary multiples, as df -h and HDFS use). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:I?B)?\s*$/i.exec(text);
  if (!match) throw new DfsError('BAD_REQUEST', `invalid size "${text}": expected a number with an optional K, M, G, T or P suffix`);
  const value = Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toUpperCase()] ?? 1);
  if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) throw new DfsError('BAD_REQUEST', `size "${text}" is too large`);
  return Math.floor(value);
}

/** Bytes per unit for a size suffix ("", "c" and "B" are bytes; K, M, G, T, P binary), any case. */
export function sizeUnitBytes(suffix: string): number | undefined {
  const upper = suffix.toUpperCase();
  return upper === 'C' ? 1 : SIZE_UNITS[upper];
}

/** 1536 → "1.5K", 0 → "0", like ls -h. */
export function formatSize(bytes: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return String(bytes);
  return `${value < 10 ? value.toFixed(1) : Math.round(value)}${units[unit]}`;
}

/** A duration in seconds: positive, or with `zeroAllowed` at least 0. */
export function parseSeconds(text: string, what: string, zeroAllowed = false): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || (value === 0 && !zeroAllowed)) {
    throw new DfsError('BAD_REQUEST', `${what} must be a ${zeroAllowed ? 'number of seconds, 0 or more' : 'positive number of seconds'}, got "${text}"`);
  }
  return value;
}

export function parseCount(text: string, what: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new DfsError('BAD_REQUEST', `${what} must be a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}
