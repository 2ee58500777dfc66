/**
 * Photos are shrunk on the phone before they are stored or sent: a 12 MP photo (4 MB) becomes a
 * ≤1600 px JPEG (~110-160 KB), which a 2G link can carry. EXIF orientation is applied while decoding
 * (createImageBitmap with imageOrientation 'from-image'), so the stored pixels are upright and the
 * re-encode drops the rest of the metadata.
 */
import { sha256Hex } from './sha256'

export const MAX_EDGE = 1600
export const THUMB_EDGE = 240
// Chosen by measurement (bench/photo_quality.py, this browser code in Chromium, SSIM against the
// original): 0.7 at 1600 px is the smallest setting that keeps SSIM ≥ 0.95 on every test photo both
// as the app shows it (1280 px) and against the lossless resize; ~28 % fewer bytes than 0.82, and
// fewer than 1280 px at 0.82 for the same SSIM. The server keeps these bytes as its "full" copy.
const QUALITY = 0.7

export interface ProcessedPhoto {
  sha256: string
  blob: Blob
  thumb: Blob
  width: number
  height: number
}

async function decode(file: Blob): Promise<ImageBitmap | HTMLImageElement> {
  if (typeof createImageBitmap === 'function') {
    try {
      return await createImageBitmap(file, { imageOrientation: 'from-image' })
    } catch {
      /* older WebView: fall back to <img>, which applies EXIF orientation itself in current engines */
    }
  }
  const url = URL.createObjectURL(file)
  try {
    const img = new Image()
    img.decoding = 'async'
    img.src = url
    await img.decode()
    return img
  } finally {
    URL.revokeObjectURL(url)
  }
}

function sizeOf(src: ImageBitmap | HTMLImageElement): [number, number] {
  return 'naturalWidth' in src ? [src.naturalWidth, src.naturalHeight] : [src.width, src.height]
}

function fit(w: number, h: number, edge: number): [number, number] {
  const s = Math.min(1, edge / Math.max(w, h))
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))]
}

function encode(src: CanvasImageSource, w: number, h: number, quality: number): Promise<Blob> {
  const canvas = document.createElement('canvas')
  canvas.width = w
  canvas.height = h
  const ctx = canvas.getContext('2d')
  if (!ctx) throw new Error('canvas unavailable')
  ctx.imageSmoothingEnabled = true
  ctx.imageSmoothingQuality = 'high'
  ctx.fillStyle = '#fff' // transparent PNGs become white, not black
  ctx.fillRect(0, 0, w, h)
  ctx.drawImage(src, 0, 0, w, h)
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('encode failed'))), 'image/jpeg', quality),
  )
}

/** Decodes, turns upright, shrinks to ≤1600 px and hashes one photo; also makes a small thumbnail. */
export async function processPhoto(file: Blob): Promise<ProcessedPhoto> {
  const src = await decode(file)
  try {
    const [w0, h0] = sizeOf(src)
    const [w, h] = fit(w0, h0, MAX_EDGE)
    const blob = await encode(src, w, h, QUALITY)
    const [tw, th] = fit(w0, h0, THUMB_EDGE)
    const thumb = await encode(src, tw, th, 0.7)
    const sha256 = await sha256Hex(await blob.arrayBuffer())
    return { sha256, blob, thumb, width: w, height: h }
  } finally {
    if ('close' in src) src.close()
  }
}
