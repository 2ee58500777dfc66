// Draws the app icons (a 3×3 grid — 网格 — with the centre cell lit) as PNGs, using only Node's
// built-in zlib: no native image libraries, no CJK fonts needed. Run: `npm run icons`.
// Output goes to public/icons/ and is committed, so builds never need to run this.
import { deflateSync } from 'node:zlib'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'icons')
const RED = [0xb7, 0x1c, 0x1c] // theme colour, also in vite.config.ts and index.html
const WHITE = [0xff, 0xff, 0xff]
const GOLD = [0xff, 0xc6, 0x2b]

// Signed distance to a rounded box centred at (cx, cy) with half-size h and corner radius r.
function roundedBox(x, y, cx, cy, h, r) {
  const qx = Math.abs(x - cx) - h + r
  const qy = Math.abs(y - cy) - h + r
  const ox = Math.max(qx, 0)
  const oy = Math.max(qy, 0)
  return Math.hypot(ox, oy) + Math.min(Math.max(qx, qy), 0) - r
}

/**
 * Colour of the unit-square point (x, y), or null for transparent.
 * maskable: full-bleed background, mark kept inside the central 80 % safe circle.
 */
function shade(x, y, maskable) {
  if (!maskable && roundedBox(x, y, 0.5, 0.5, 0.5, 0.2) > 0) return null
  const markHalf = maskable ? 0.24 : 0.31 // half-width of the 3×3 grid
  const cell = (markHalf * 2) / 3
  const gap = cell * 0.16
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const cx = 0.5 - markHalf + cell * (i + 0.5)
      const cy = 0.5 - markHalf + cell * (j + 0.5)
      if (roundedBox(x, y, cx, cy, cell / 2 - gap / 2, cell * 0.12) <= 0) {
        return i === 1 && j === 1 ? GOLD : WHITE
      }
    }
  }
  return RED
}

function render(size, maskable) {
  const ss = 4 // 4×4 supersampling for smooth edges
  const px = Buffer.alloc(size * size * 4)
  for (let py = 0; py < size; py++) {
    for (let pxi = 0; pxi < size; pxi++) {
      let r = 0, g = 0, b = 0, a = 0
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const c = shade((pxi + (sx + 0.5) / ss) / size, (py + (sy + 0.5) / ss) / size, maskable)
          if (c) { r += c[0]; g += c[1]; b += c[2]; a += 1 }
        }
      }
      const o = (py * size + pxi) * 4
      if (a) { px[o] = r / a; px[o + 1] = g / a; px[o + 2] = b / a }
      px[o + 3] = Math.round((a / (ss * ss)) * 255)
    }
  }
  return encodePng(size, size, px)
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf) {
  let c = 0xffffffff
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}
function encodePng(w, h, rgba) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h)
  for (let y = 0; y < h; y++) {
    raw[y * (w * 4 + 1)] = 0 // filter: none
    rgba.copy(raw, y * (w * 4 + 1) + 1, y * w * 4, (y + 1) * w * 4)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

mkdirSync(OUT, { recursive: true })
const targets = [
  ['icon-192.png', 192, false],
  ['icon-512.png', 512, false],
  ['maskable-512.png', 512, true],
  ['apple-touch-icon-180.png', 180, true], // iOS draws its own rounded corners; no transparency
  ['favicon-48.png', 48, false],
]
for (const [name, size, maskable] of targets) {
  writeFileSync(join(OUT, name), render(size, maskable))
  console.log(`wrote public/icons/${name}`)
}
