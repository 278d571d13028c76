import type { z } from 'zod'
import { ENV_OF_KEY } from './load.js'
import { configSchema, RETIRED_KEYS } from './schema.js'

/** One documented key. */
export interface KeyDoc {
  key: string
  type: string
  default: string
  env: string
  meaning: string
}

/** Defaults that depend on the machine, shown as what they are made of. */
const COMPUTED_DEFAULTS: Readonly<Record<string, string>> = {
  'node.name': 'the host name',
}

interface Def {
  type: string
  innerType?: z.ZodType
  defaultValue?: unknown
  shape?: Record<string, z.ZodType>
  element?: z.ZodType
  valueType?: z.ZodType
  entries?: Record<string, string>
  options?: z.ZodType[]
  values?: unknown[]
  in?: z.ZodType
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def

/** Peels defaults, nullables and optionals off a key's schema, keeping what they said. */
interface Unwrapped { core: z.ZodType, description: string, fallback: unknown, nullable: boolean, optional: boolean }

function unwrap(schema: z.ZodType): Unwrapped {
  let core = schema
  let description = ''
  let fallback: unknown
  let nullable = false
  let optional = false
  for (;;) {
    description ||= core.description ?? ''
    const def = defOf(core)
    if (def.type === 'default') fallback = def.defaultValue
    if (def.type === 'nullable') nullable = true
    if (def.type === 'optional') optional = true
    if (['default', 'prefault', 'nullable', 'optional', 'readonly'].includes(def.type)) core = def.innerType!
    else if (def.type === 'pipe') core = def.in!
    else return { core, description, fallback, nullable, optional }
  }
}

function typeName(schema: z.ZodType): string {
  const def = defOf(schema)
  switch (def.type) {
    case 'enum': return Object.values(def.entries!).join(' | ')
    case 'literal': return def.values!.map((v) => JSON.stringify(v)).join(' | ')
    case 'union': return def.options!.map((o) => typeName(o)).join(' | ')
    case 'array': return `list of ${typeName(unwrap(def.element!).core)}`
    case 'object': return 'mapping'
    case 'record': return 'mapping of name to mapping'
    default: return def.type
  }
}

function shown(value: unknown, optional: boolean): string {
  if (value !== undefined) return `\`${JSON.stringify(value)}\``
  return optional ? '(none)' : 'required'
}

function walk(schema: z.ZodType, key: string, rows: KeyDoc[]): void {
  const { core, description, fallback, nullable, optional } = unwrap(schema)
  const def = defOf(core)
  if (def.type === 'object') {
    for (const [name, child] of Object.entries(def.shape!)) walk(child, key === '' ? name : `${key}.${name}`, rows)
    return
  }
  rows.push({
    key,
    type: typeName(core) + (nullable ? ' or null' : ''),
    default: COMPUTED_DEFAULTS[key] ?? shown(fallback, optional),
    env: ENV_OF_KEY[key] ?? '',
    meaning: description,
  })
  // The fields of each list item or named entry.
  const item = def.type === 'array' ? unwrap(def.element!).core : def.type === 'record' ? unwrap(def.valueType!).core : null
  if (item !== null && defOf(item).type === 'object') {
    const prefix = def.type === 'array' ? `${key}[]` : `${key}.<name>`
    for (const [name, child] of Object.entries(defOf(item).shape!)) walk(child, `${prefix}.${name}`, rows)
  }
}

/** Every key of the configuration schema, in the schema's order. */
export function configKeys(): KeyDoc[] {
  const rows: KeyDoc[] = []
  walk(configSchema, '', rows)
  return rows
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

/** docs/configuration.md, generated from the schema (npm run -s docs:config writes it). */
export function configReference(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/daemon/config/schema.ts by `npm run -s docs:config`; edit the schema, not this file. -->',
    '',
    'The daemon reads `/etc/aitbc/aitbc-node.yaml` when it exists (or the file given by `--config` or',
    '`AITBC_CONFIG`), then the environment, then command-line flags (`--set key=value` sets any key).',
    'Unknown keys are errors. Durations are milliseconds. `aitbc-node config check` prints the result;',
    '`config/aitbc-node.example.yaml` is a commented example.',
    '',
  ]
  let section = ''
  for (const row of configKeys()) {
    const top = row.key.split('.')[0]!
    if (top !== section) {
      if (section !== '') lines.push('')
      section = top
      lines.push(`## ${top}`, '', '| Key | Type | Default | Environment | Meaning |', '| --- | --- | --- | --- | --- |')
    }
    const env = row.env === '' ? '' : `\`${row.env}\``
    lines.push(`| \`${row.key}\` | ${cell(row.type)} | ${cell(row.default)} | ${cell(env)} | ${cell(row.meaning)} |`)
  }
  lines.push('', '## Retired keys', '', 'A config that still sets one of these fails to load with this message.', '', '| Key | Message |', '| --- | --- |')
  for (const [key, message] of Object.entries(RETIRED_KEYS)) lines.push(`| \`${key}\` | ${cell(message)} |`)
  return `${lines.join('\n')}\n`
}
