import { CliError } from './api-client.js'

/** A comma-separated flag as a list, blanks dropped. */
export const commaList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean)

/** A flag holding a JSON object; anything else is a usage error that shows `example`. */
export function jsonObject(flag: string, raw: string | undefined, example: string): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined
  try {
    const v = JSON.parse(raw) as unknown
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    // Falls through to the usage error.
  }
  throw new CliError(`--${flag} expects a JSON object, e.g. --${flag} '${example}'`, 2)
}

/** A flag holding a whole number from min to max. */
export function wholeNumber(
  flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(`--${flag} expects a whole number from ${min} to ${max} (got "${raw}")`, 2)
  }
  return n
}
