import { explain, get, post } from './api.js'
import { $, alertIn, badge, cell, el, emptyRow, fillOptions, plural, since, type Tone } from './dom.js'

interface Receipt { state: 'queued' | 'delivered' | 'duplicate' | 'rejected' | 'expired', attempts: number, updated_at: number, reason: string | null }
interface Sent {
  message_id: string
  to: string
  targets: string[]
  created_at: string
  receipts: Record<string, Receipt>
  message_delivery: { sent: number, delivered: number, failed: number, queued: number }
}
interface Inbound { id: string, from: string, to: string, body: unknown, sent_at: number, received_at: number }

const TONE: Record<Receipt['state'], Tone> = { queued: 'degraded', delivered: 'online', duplicate: 'online', rejected: 'offline', expired: 'offline' }
/** Messages sent from this tab, newest first, with their receipts as last read. */
const sent: Sent[] = []

const text = (body: unknown): string => (typeof body === 'string' ? body : JSON.stringify(body))

function renderSent(): void {
  const list = $('sent-list').querySelector('tbody')!
  list.replaceChildren(...(sent.length === 0 ? [emptyRow(4, 'Nothing sent from this tab yet.')] : sent.flatMap((m) =>
    m.targets.map((target) => {
      const r = m.receipts[target]
      const tr = el('tr')
      tr.dataset.message = m.message_id
      tr.dataset.target = target
      tr.dataset.state = r?.state ?? 'queued'
      const state = cell(badge(r?.state ?? 'queued', TONE[r?.state ?? 'queued']))
      if (r?.reason != null) state.append(el('div', r.reason, { class: 'reason' }))
      tr.append(cell(m.message_id.slice(0, 8)), cell(target), state, cell(`${plural(r?.attempts ?? 0, 'attempt')}, ${since(new Date(r?.updated_at ?? Date.parse(m.created_at)).toISOString())}`))
      return tr
    }))))
}

/** Reads the receipts again until none is queued (the sender's outbox keeps retrying meanwhile) or 30 s pass. */
async function watch(id: string): Promise<void> {
  const until = Date.now() + 30_000
  for (;;) {
    const rec = await get<Sent>(`/messages/${id}`)
    const i = sent.findIndex((m) => m.message_id === id)
    if (i >= 0) sent[i] = rec
    renderSent()
    if (rec.message_delivery.queued === 0 || Date.now() > until) return
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** The inbox of this daemon's node: what others sent it. */
export async function refreshInbox(): Promise<void> {
  const res = await get<{ node: string, messages: Inbound[] }>('/messages/inbox?limit=50')
  $('inbox-title').textContent = `Inbox of ${res.node}`
  $('inbox').querySelector('tbody')!.replaceChildren(...(res.messages.length === 0 ? [emptyRow(3, 'The inbox is empty: messages sent to this node show here.')] : res.messages.map((m) => {
    const tr = el('tr')
    tr.dataset.message = m.id
    tr.append(cell(m.from), cell(since(new Date(m.received_at).toISOString())), cell(text(m.body).slice(0, 500), 'wrap'))
    return tr
  })))
}

/** Fills the To list with the nodes the cluster panel shows (every one but this daemon's). */
export const setTargets = (names: string[]): void => fillOptions($<HTMLSelectElement>('message-to'), ['all', ...names])

export function setUpMessages(): void {
  renderSent()
  $('message-form').addEventListener('submit', (e) => {
    e.preventDefault()
    alertIn('message-error', null)
    const to = $<HTMLSelectElement>('message-to').value
    const body = $<HTMLTextAreaElement>('message-body').value
    if (body.trim() === '') return alertIn('message-error', 'Write a message first.')
    post<Sent>('/messages', { to, body, wait_ms: 2000 }).then((m) => {
      sent.unshift(m)
      sent.splice(20)
      $<HTMLTextAreaElement>('message-body').value = ''
      return watch(m.message_id)
    }).catch((err: unknown) => alertIn('message-error', explain(err, 'Not sent', 'operate')))
  })
}
