import { z } from 'zod'

const ref = { $ref: '#/components/schemas/JsonValue' }

/**
 * Any JSON value, as one recursive component of the OpenAPI document. It
 * validates as z.unknown(): request bodies reach it already parsed from JSON
 * text, so every value is JSON. z.json() is not used because zod-openapi
 * renders each of its instances as a fresh recursive schema (copies that
 * openapi-typescript cannot compile: TS2502). A list's items are left open:
 * TypeScript cannot resolve `JsonValue[]` inside JsonValue's own type when
 * written as an indexed access (components["schemas"]["JsonValue"][]), which
 * is how openapi-typescript writes it (TS2502 again).
 */
export const jsonValue = z.unknown().meta({
  id: 'JsonValue',
  outputId: 'JsonValue',
  description: 'any JSON value',
  override: {
    anyOf: [
      { type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' },
      { type: 'array', items: {} }, { type: 'object', additionalProperties: ref },
    ],
  },
})
