import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { registerServiceWorker } from './core/pwa'
import { takeBootForm } from './people/boot'
import './styles.css'

const app = createApp(App).use(router)

// Mount once the first route's view is in, so the sign-in form written into index.html stays on
// screen (and takes typing) until the app's own form replaces it, with what was typed carried over.
void router
  .isReady()
  .then(
    () => true,
    () => false,
  )
  .then((ready) => {
    takeBootForm()
    app.mount('#app')
    // Register (and let it precache the whole app) only once the first screen is up, so on a slow
    // link the precache does not compete with the chunks the first screen needs.
    if (ready && import.meta.env.PROD) registerServiceWorker()
  })
