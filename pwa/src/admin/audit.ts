/** How audit entries read in the console. */
import type { AuditEntry } from './api'

const ACTIONS: Record<string, string> = {
  'case.create': '登记案件',
  'case.update': '修改案件',
  'case.read_personal': '查看当事人信息',
  'case.note': '添加办理记录',
  'sync.pull_personal': '同步当事人信息到手机',
  'user.create': '新建用户',
  'user.update': '修改用户',
  'user.read': '查看账号（含手机号码）',
  'user.disable': '停用用户',
  'user.enable': '启用用户',
  'user.reset_password': '重置密码',
  'user.change_password': '修改密码',
  'device.revoke': '停用设备',
  'device.wipe': '要求清除设备',
  'device.wiped': '设备已清除',
  'team.create': '新建调解队',
  'team.update': '修改调解队',
  'team.add_member': '加入队员',
  'team.update_member': '修改队员（队长）',
  'team.remove_member': '移出队员',
  'roster.import': '导入花名册',
}

export function actionLabel(action: string): string {
  if (ACTIONS[action]) return ACTIONS[action]
  const admin = action.replace(/^admin\./, '')
  if (ACTIONS[admin]) return ACTIONS[admin]
  if (action.startsWith('case.')) return `办理：${action.slice(5)}`
  return action
}

/** Words the server logs in `detail`, in Chinese (others are shown as they come). */
const WORDS: Record<string, string> = {
  fields: '字段',
  cases: '案件数',
  name: '姓名',
  phone: '手机号码',
  id_number: '身份证号',
  title: '标题',
  description: '描述',
  parties: '当事人',
  category: '类别',
  level: '级别',
  location: '位置',
  role: '角色',
  scope_code: '区域',
  team_id: '调解队',
  display_name: '姓名',
}
const word = (w: unknown) => (typeof w === 'string' ? (WORDS[w] ?? w) : String(w))

/** The detail object in one line: "字段：姓名、手机号码". Values are whatever the server logged. */
export function detailText(e: Pick<AuditEntry, 'detail'>): string {
  return Object.entries(e.detail ?? {})
    .map(([k, v]) => `${word(k)}：${Array.isArray(v) ? v.map(word).join('、') : typeof v === 'object' && v !== null ? JSON.stringify(v) : word(v)}`)
    .join('；')
}

/** A date input (YYYY-MM-DD, county time) as the start of that day, or of the next day for "until". */
export function dayBound(date: string, endOfDay = false): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined
  const start = new Date(`${date}T00:00:00+08:00`)
  if (endOfDay) start.setUTCDate(start.getUTCDate() + 1)
  return start.toISOString()
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
