/**
 * 打印卷宗: the case file of a closed or archived case (GET /api/cases/{id}/dossier). Fetched with the
 * bearer token (a plain link cannot send it) and opened as a blob page the browser prints or saves
 * as PDF; the photos are inline in it, so nothing else needs the token.
 */
import { ref } from 'vue'
import { api } from '../core/session'
import { ApiError } from '../core/errors'
import type { CaseView } from './types'

export const DOSSIER_STATES = ['closed', 'archived']

export function hasDossier(v: Pick<CaseView, 'state'>): boolean {
  return DOSSIER_STATES.includes(v.state)
}

/** Opens the case file in a new tab (opened at once, while the tap still counts as a user gesture). */
export async function openDossier(caseId: string): Promise<void> {
  const win = window.open('', '_blank')
  try {
    const res = await api.raw('GET', `/cases/${encodeURIComponent(caseId)}/dossier?format=html`, { headers: { Accept: 'text/html' } })
    if (!res.ok) throw await ApiError.fromResponse(res)
    const url = URL.createObjectURL(await res.blob())
    if (win) win.location.href = url
    else window.location.href = url
  } catch (e) {
    win?.close()
    throw e
  }
}

/** 打印卷宗 for a view: whether the file is being fetched, what went wrong, and the tap handler. */
export function useDossierPrint() {
  const printing = ref(false)
  const printError = ref('')
  async function print(caseId: string): Promise<void> {
    if (printing.value) return
    printing.value = true
    printError.value = ''
    try {
      await openDossier(caseId)
    } catch (e) {
      printError.value = `卷宗打开失败：${(e as Error).message}`
    } finally {
      printing.value = false
    }
  }
  return { printing, printError, print }
}
