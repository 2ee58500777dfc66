/**
 * The sign-in form in index.html (there before the app's JavaScript on a slow first load): what was
 * typed into it, read just before the app mounts over it, so LoginView starts with it and the field
 * being typed in keeps the focus.
 */
export interface BootTyped {
  username: string
  password: string
  /** 'username' | 'password' when one of them had the focus. */
  focused: string
}

export let bootTyped: BootTyped | null = null

export function takeBootForm(doc: Document = document): void {
  const form = doc.getElementById('boot-login')
  if (!form) return
  const value = (id: string) => (doc.getElementById(id) as HTMLInputElement | null)?.value ?? ''
  const active = doc.activeElement?.id ?? ''
  bootTyped = {
    username: value('boot-username'),
    password: value('boot-password'),
    focused: active.startsWith('boot-') ? active.slice(5) : '',
  }
}

/** Once: LoginView takes the values, a later visit to the sign-in screen starts empty. */
export function consumeBootTyped(): BootTyped | null {
  const typed = bootTyped
  bootTyped = null
  return typed
}
