/** Parsing the "days after closing" field of a visit policy: "3, 30" → [3, 30]. */
export function parseOffsets(text: string): { days: number[]; error: string } {
  const parts = text
    .split(/[,，、\s]+/)
    .map((s) => s.trim())
    .filter(Boolean)
  if (!parts.length) return { days: [], error: '请填写结案后第几天回访，如 3, 30' }
  if (parts.length > 6) return { days: [], error: '最多 6 次回访' }
  const days: number[] = []
  for (const p of parts) {
    if (!/^\d+$/.test(p)) return { days: [], error: `“${p}”不是天数，请只填数字` }
    const n = Number(p)
    if (n < 1 || n > 365) return { days: [], error: '天数应在 1 到 365 之间' }
    days.push(n)
  }
  const sorted = [...new Set(days)].sort((a, b) => a - b)
  if (sorted.length !== days.length) return { days: [], error: '回访天数不能重复' }
  return { days: sorted, error: '' }
}
