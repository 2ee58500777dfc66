/** Reports and the dashboard (GET /api/reports/*), rendered generically from the JSON. */
import { api } from '../core/session'
import { ApiError } from '../core/errors'

export type ReportKind = 'daily' | 'weekly' | 'monthly' | 'quarterly' | 'statistics'

export const REPORT_KINDS: { key: ReportKind; label: string; hint: string }[] = [
  { key: 'daily', label: '日报告', hint: '一天的新增、受理、办结、逾期和大事' },
  { key: 'weekly', label: '周分析', hint: '环比、热点网格、重复纠纷' },
  { key: 'monthly', label: '月排查', hint: '久拖未决、逾期、冲突、回访逾期' },
  { key: 'quarterly', label: '季调度', hint: '乡镇和调解队按五率排名' },
  { key: 'statistics', label: '统计表', hint: '人民调解案件统计（报司法局）：按类别、结果、来源，零上报' },
]

/** The statistics table's period: a year and, optionally, a quarter ('' = the whole year). */
export interface StatisticsPeriod {
  year: string
  quarter: string
}

/** The period parameters of a report: a date in it, or the statistics table's year and quarter. */
function periodParams(kind: ReportKind, date: string, stats?: StatisticsPeriod): Record<string, string | null> {
  if (kind !== 'statistics') return { date }
  return { year: stats?.year ?? date.slice(0, 4), quarter: stats?.quarter || null }
}

export interface Rate {
  key: string
  name: string
  value: number | null
  numerator: number
  denominator: number
  definition: string
}

export type ColumnType = 'text' | 'int' | 'number' | 'percent' | 'date' | 'datetime'

export interface Column {
  key: string
  label: string
  type: ColumnType
}

export interface Section {
  key: string
  title: string
  columns: Column[]
  rows: Record<string, unknown>[]
  totals: Record<string, unknown> | null
  note?: string | null
}

export interface Report {
  kind: ReportKind
  title: string
  period: { start: string; end: string; label: string }
  township: { code: string; name: string } | null
  /** A team leader's report: only that team's cases. */
  team?: { code: string; name: string } | null
  generated_at: string
  rates: Rate[]
  sections: Section[]
}

export interface Dashboard {
  scope: { level: string; code: string | null; name: string }
  counts: Record<string, number>
  rates: Rate[]
  trend: { week_start: string; new: number; closed: number }[]
  categories: { code: string; name: string; count: number }[]
  /** 督办 orders: open, red now, reported and waiting for acceptance. */
  supervision?: { open: number; overdue: number; awaiting: number } | null
}

function query(params: Record<string, string | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v)
  const s = q.toString()
  return s ? `?${s}` : ''
}

export function getReport(kind: ReportKind, date: string, township: string | null, stats?: StatisticsPeriod): Promise<Report> {
  return api.get<Report>(`/reports/${kind}${query({ ...periodParams(kind, date, stats), township })}`)
}

export function getDashboard(township?: string | null): Promise<Dashboard> {
  return api.get<Dashboard>(`/reports/dashboard${query({ township })}`)
}

/** The file name from Content-Disposition (RFC 5987 filename* first, then plain filename). */
export function fileNameOf(header: string | null, fallback: string): string {
  if (!header) return fallback
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header)
  if (star) {
    try {
      return decodeURIComponent(star[2].trim().replace(/^"|"$/g, ''))
    } catch {
      /* fall through */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header)
  return plain ? plain[1].trim() : fallback
}

/**
 * Fetches a report file with the bearer token (a plain link cannot send it) and returns it as a blob
 * with its file name.
 */
export async function fetchReportFile(
  kind: ReportKind,
  date: string,
  township: string | null,
  format: 'xlsx' | 'html',
  stats?: StatisticsPeriod,
): Promise<{ blob: Blob; name: string }> {
  const res = await api.raw('GET', `/reports/${kind}${query({ ...periodParams(kind, date, stats), township, format })}`, {
    headers: { Accept: format === 'xlsx' ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/html' },
  })
  if (!res.ok) throw await ApiError.fromResponse(res)
  const blob = await res.blob()
  return { blob, name: fileNameOf(res.headers.get('Content-Disposition'), `report-${kind}-${date}.${format}`) }
}

export function formatCell(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined || value === '') return type === 'percent' ? '—' : ''
  if (type === 'percent') return `${Number(value).toFixed(2)}%`
  if (type === 'number') return Number(value).toFixed(2)
  if (type === 'datetime') {
    const d = new Date(String(value))
    return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false })
  }
  return String(value)
}
