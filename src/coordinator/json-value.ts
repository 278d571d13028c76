import { z } from 'zod'

const ref = { $ref: '#/components/schemas/JsonValue' }

/**
 * Any JSON value, as one recursive component of the OpenAPI document. It
 * validates as z.unknown(): request bodies reach it already parsed from JSON
 * text, so every value is JSON. z.json() is not used because zod-openapi
 * renders each of its instances as a fresh recursive schema (copies that
 * openapi-typescript cannot compile: TS2502).
 */
export const jsonValue = z.unknown().meta({
  id: 'JsonValue',
  outputId: 'JsonValue',
  description: 'any JSON value',
  override: {
    anyOf: [
      { type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' },
      { type: 'array', items: ref }, { type: 'object', additionalProperties: ref },
    ],
  },
})
