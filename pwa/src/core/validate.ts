/**
 * Checks made as the user types, so a mistake is seen in the village and not at the server
 * (which checks again: backend/cases/privacy.py). Messages are Chinese and say what to fix.
 */

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const ID_CHECK = '10X98765432'

/** The check character of an 18-digit resident ID number (GB 11643-1999, ISO 7064 MOD 11-2). */
export function idCheckChar(first17: string): string {
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]
  return ID_CHECK[sum % 11]
}

/** '' when valid or empty (the ID number is optional), else a Chinese message. */
export function checkIdNumber(raw: string): string {
  const v = raw.trim().toUpperCase()
  if (!v) return ''
  if (/[^0-9X]/.test(v)) return '身份证号只能包含数字和 X'
  if (v.length < 18) return `身份证号应为 18 位，还差 ${18 - v.length} 位`
  if (v.length > 18) return '身份证号应为 18 位，多了 ' + (v.length - 18) + ' 位'
  if (!/^\d{17}[\dX]$/.test(v)) return 'X 只能是最后一位'
  const y = Number(v.slice(6, 10))
  const m = Number(v.slice(10, 12))
  const d = Number(v.slice(12, 14))
  const date = new Date(Date.UTC(y, m - 1, d))
  if (y < 1900 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d || date.getTime() > Date.now()) {
    return '身份证号中的出生日期不正确'
  }
  if (idCheckChar(v) !== v[17]) return '身份证号校验位不对，请逐位核对'
  return ''
}

/** Mobile (11 digits, 1[3-9]...) or a landline with area code (0875-6123456). '' when valid or empty. */
export function checkPhone(raw: string): string {
  const v = raw.trim().replace(/[\s()（）]/g, '')
  if (!v) return ''
  if (/[^\d+-]/.test(v)) return '电话只能包含数字和 -'
  const digits = v.replace(/^\+?86/, '').replace(/-/g, '')
  if (digits.startsWith('1')) {
    if (digits.length < 11) return `手机号应为 11 位，还差 ${11 - digits.length} 位`
    if (digits.length > 11) return '手机号应为 11 位'
    if (!/^1[3-9]\d{9}$/.test(digits)) return '手机号第二位应为 3-9'
    return ''
  }
  if (digits.startsWith('0')) {
    if (digits.length < 10 || digits.length > 12) return '固定电话请带区号，如 0875-6123456'
    return ''
  }
  return '请填写手机号（11 位）或带区号的固定电话'
}

export function normalisePhone(raw: string): string {
  return raw.trim().replace(/[\s()（）]/g, '')
}

export function normaliseId(raw: string): string {
  return raw.trim().toUpperCase()
}
