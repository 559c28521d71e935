// Sign in and register: one form each, the server's message shown in place.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import * as session from '../session.js';
import { field, formError, busy } from '../ui.js';

export function render(root, { mode, go }) {
  const register = mode === 'register';
  const user = h('input', { type: 'text', class: 'input', name: 'username', autocomplete: 'username', required: true, maxLength: 64, attrs: { autocapitalize: 'none', spellcheck: 'false' } });
  const pass = h('input', { type: 'password', class: 'input', name: 'password', autocomplete: register ? 'new-password' : 'current-password', required: true, maxLength: 256 });
  const pass2 = register ? h('input', { type: 'password', class: 'input', name: 'password2', autocomplete: 'new-password', required: true, maxLength: 256 }) : null;
  const err = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', text: register ? t('login.register_button') : t('login.button') });
  const form = h('form', { class: 'auth-form', attrs: { novalidate: true } },
    field(t('login.username'), user, register ? t('login.username_help') : null),
    field(t('login.password'), pass, register ? t('login.password_help') : null),
    register ? field(t('login.password_again'), pass2) : null,
    err, submit);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    const username = user.value.trim();
    if (!username || !pass.value) { err.show({ message: t('login.missing') }); (username ? pass : user).focus(); return; }
    if (register && pass.value !== pass2.value) { err.show({ message: t('login.mismatch') }); pass2.focus(); return; }
    await busy(submit, async () => {
      try {
        if (register) await api('POST', '/auth/register', { username, password: pass.value }, { auth: false });
        await session.signIn(username, pass.value);
        go('/');
      } catch (e2) {
        err.show(e2.retryAfter ? { message: `${e2.message} ${t('login.retry_after', { s: e2.retryAfter })}` } : e2);
      }
    });
  });

  root.append(h('div', { class: 'auth-page' },
    h('div', { class: 'auth-card card' },
      h('h1', { class: 'page-title', text: register ? t('login.register_title') : t('login.title'), attrs: { tabindex: '-1' } }),
      h('p', { class: 'page-intro', text: t('login.intro') }),
      form,
      h('p', { class: 'auth-switch' },
        register ? t('login.have_account') : t('login.no_account'), ' ',
        h('a', { href: register ? '#/login' : '#/register', text: register ? t('login.go_login') : t('login.go_register') }))),
  ));
  user.focus();
}
