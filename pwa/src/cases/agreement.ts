/**
 * The mediation agreement on the phone: what a written or oral agreement must hold (mirrors
 * backend/cases/agreement.py missing_fields, so the form marks the same fields the server would refuse),
 * and opening the A4 page to print, share or save before signing.
 */
import { api } from '../core/session'
import { ApiError } from '../core/errors'
import type { Obligation } from './types'

export interface AgreementDraft {
  form: 'written' | 'oral'
  facts: string
  matters: string
  responsibilities: string
  obligations: Obligation[]
  amount_yuan: string
  content: string
}

export const FIELD_LABELS: Record<string, string> = {
  facts: '纠纷主要事实',
  matters: '争议事项',
  responsibilities: '各方责任',
  obligations: '协议义务（至少一项）',
  content: '协议内容',
  manner: '履行方式',
  place: '履行地点',
  deadline: '履行期限',
}

export function emptyObligation(): Obligation {
  return { party: null, content: '', manner: '', place: '', deadline: null }
}

/** The required fields left empty, by the API's names (obligations[0].manner ...), in the form's order. */
export function missingFields(a: AgreementDraft): string[] {
  if (a.form === 'oral') return a.content.trim() ? [] : ['content']
  const missing = (['facts', 'matters', 'responsibilities'] as const).filter((f) => !a[f].trim())
  const out: string[] = [...missing]
  if (!a.obligations.length) out.push('obligations')
  a.obligations.forEach((o, i) => {
    for (const f of ['content', 'manner', 'place'] as const) if (!o[f].trim()) out.push(`obligations[${i}].${f}`)
    if (!o.deadline) out.push(`obligations[${i}].deadline`)
  })
  return out
}

/** "第2项义务的履行地点" for obligations[1].place. */
export function fieldLabel(field: string): string {
  const m = /^obligations\[(\d+)\]\.(\w+)$/.exec(field)
  return m ? `第${Number(m[1]) + 1}项义务的${FIELD_LABELS[m[2]] ?? m[2]}` : (FIELD_LABELS[field] ?? field)
}

/** The body of the resolve action. An amount that is not a number is left out (the form marks it). */
export function agreementBody(a: AgreementDraft): Record<string, unknown> {
  if (a.form === 'oral') return { form: 'oral', content: a.content.trim() }
  const amount = a.amount_yuan.trim() === '' ? null : Number(a.amount_yuan)
  return {
    form: 'written',
    facts: a.facts.trim(),
    matters: a.matters.trim(),
    responsibilities: a.responsibilities.trim(),
    obligations: a.obligations.map((o) => ({
      party: o.party,
      content: o.content.trim(),
      manner: o.manner.trim(),
      place: o.place.trim(),
      deadline: o.deadline || null,
    })),
    ...(amount !== null && Number.isFinite(amount) && amount >= 0 ? { amount_yuan: Math.round(amount * 100) / 100 } : {}),
  }
}

/** The printable agreement (one copy per party and one for the committee) as an HTML file. */
export async function fetchAgreementPage(caseId: string): Promise<Blob> {
  const res = await api.raw('GET', `/cases/${caseId}/agreement?format=html`, { headers: { Accept: 'text/html' } })
  if (!res.ok) throw await ApiError.fromResponse(res)
  return await res.blob()
}

/**
 * Opens the agreement to print (the page has its own 打印 button) or, where the phone can share files,
 * offers it to the share sheet (WeChat, print services). The window is opened before the fetch, while
 * the tap still counts as a user gesture.
 */
export async function openAgreement(caseId: string, number: string, share = false): Promise<void> {
  const win = share ? null : window.open('', '_blank')
  try {
    const blob = await fetchAgreementPage(caseId)
    if (share) {
      const file = new File([blob], `调解协议书-${number}.html`, { type: 'text/html' })
      if (navigator.canShare?.({ files: [file] })) {
        await navigator.share({ files: [file], title: `调解协议书 ${number}` })
        return
      }
    }
    const url = URL.createObjectURL(blob)
    if (win) win.location.href = url
    else window.open(url, '_blank')
  } catch (e) {
    win?.close()
    throw e
  }
}
