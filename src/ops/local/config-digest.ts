import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'

/**
 * sha256 of each configured file by its file name (null when it cannot be
 * read); nodes compare by name, so each may keep the file where it likes.
 */
export async function configDigests(files: readonly string[]): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {}
  for (const f of files) {
    try {
      out[basename(f)] = createHash('sha256').update(await readFile(f)).digest('hex')
    } catch {
      out[basename(f)] = null
    }
  }
  return out
}

/** The configured file with this name; requests name files, never give paths. */
function configuredPath(files: readonly string[], name: string): string {
  const path = files.find((f) => basename(f) === name)
  if (path === undefined) throw Object.assign(new Error(`no file named ${name} in ops.configFiles`), { code: 'ERR_CONFIG_FILE' })
  return path
}

/** Reads one configured file for copying to another node (only files listed in ops.configFiles). */
export async function readConfigFile(files: readonly string[], name: string): Promise<{ content_b64: string }> {
  return { content_b64: (await readFile(configuredPath(files, name))).toString('base64') }
}

/** Replaces one configured file, keeping a backup next to it; atomic through a rename. */
export async function writeConfigFile(
  files: readonly string[],
  name: string,
  contentB64: string,
): Promise<{ backup: string | null }> {
  const path = configuredPath(files, name)
  const { copyFile, rename, writeFile } = await import('node:fs/promises')
  const backup = `${path}.aitbc-backup-${new Date().toISOString().replaceAll(':', '-')}`
  const had = await copyFile(path, backup).then(() => true, () => false)
  const tmp = `${path}.aitbc-tmp-${process.pid}`
  await writeFile(tmp, Buffer.from(contentB64, 'base64'))
  await rename(tmp, path)
  return { backup: had ? backup : null }
}
