#!/usr/bin/env node
// Writes docs/configuration.md from the config schema (compiled in dist/): `npm run -s docs:config`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { configReference } from '../dist/daemon/config/reference.js'

mkdirSync(new URL('../docs/', import.meta.url), { recursive: true })
writeFileSync(new URL('../docs/configuration.md', import.meta.url), configReference())
