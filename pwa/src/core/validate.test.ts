import { describe, expect, it } from 'vitest'
import { checkIdNumber, checkPhone, idCheckChar } from './validate'
import { sha256Js } from './sha256'

describe('ID number', () => {
  it('accepts a valid number (with X) and computes the check character', () => {
    expect(checkIdNumber('11010519491231002X')).toBe('')
    expect(checkIdNumber('11010519491231002x')).toBe('')
    expect(idCheckChar('11010519491231002')).toBe('X')
    expect(checkIdNumber('')).toBe('') // optional
  })
  it('says what is wrong as it is typed', () => {
    expect(checkIdNumber('1101051949')).toContain('还差 8 位')
    expect(checkIdNumber('110105194912310021')).toContain('校验位')
    expect(checkIdNumber('110105194913310023')).toContain('出生日期')
    expect(checkIdNumber('11010519491231002Y')).toContain('只能包含数字和 X')
  })
})

describe('phone', () => {
  it('accepts mobiles and landlines with area code', () => {
    expect(checkPhone('13812345678')).toBe('')
    expect(checkPhone('138 1234 5678')).toBe('')
    expect(checkPhone('+8613812345678')).toBe('')
    expect(checkPhone('0875-6123456')).toBe('')
  })
  it('rejects short, malformed or area-less numbers', () => {
    expect(checkPhone('1381234567')).toContain('还差 1 位')
    expect(checkPhone('12812345678')).toContain('第二位')
    expect(checkPhone('6123456')).toContain('区号')
    expect(checkPhone('13812abc678')).toContain('只能包含数字')
  })
})

describe('sha256 fallback', () => {
  it('matches the known digests', () => {
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
    expect(hex(sha256Js(new TextEncoder().encode('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(hex(sha256Js(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    const long = new Uint8Array(1000).fill(97)
    expect(hex(sha256Js(long))).toBe('41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3')
  })
})
