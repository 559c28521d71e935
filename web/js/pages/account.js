// My account: who I am and a password change.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { post } from '../api.js';
import * as session from '../session.js';
import { fmtTime, fmtNum } from '../format.js';
import { card, dl, field, formError, busy, toast, pageHeader } from '../ui.js';

export function render(root) {
  const me = session.current();
  const oldp = h('input', { type: 'password', class: 'input', autocomplete: 'current-password', required: true });
  const newp = h('input', { type: 'password', class: 'input', autocomplete: 'new-password', required: true });
  const newp2 = h('input', { type: 'password', class: 'input', autocomplete: 'new-password', required: true });
  // After a takeover the attacker's relay keys must not outlive the old password: on by default.
  const revoke = h('input', { type: 'checkbox', checked: true });
  const err = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: t('account.change') });
  const form = h('form', { class: 'stack-form narrow' },
    field(t('account.old'), oldp), field(t('account.new'), newp, t('login.password_help')), field(t('account.new_again'), newp2),
    h('label', { class: 'check' }, revoke, ' ', t('account.revoke_keys')), err, h('div', null, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    if (!oldp.value || !newp.value) { err.show({ message: t('login.missing') }); return; }
    if (newp.value !== newp2.value) { err.show({ message: t('login.mismatch') }); newp2.focus(); return; }
    await busy(submit, async () => {
      try {
        await post('/auth/password', { old_password: oldp.value, new_password: newp.value, revoke_relay_keys: revoke.checked });
        oldp.value = ''; newp.value = ''; newp2.value = '';
        toast(t('account.changed'));
      } catch (e2) { err.show(e2); }
    });
  });
  root.append(
    pageHeader(t('account.title')),
    card(t('account.profile'), dl([
      [t('login.username'), me.username],
      [t('account.role'), t(`role.${me.role}`)],
      [t('account.rpm'), fmtNum(me.rpm_limit)],
      [t('account.keys'), `${fmtNum(me.healthy_keys)} / ${fmtNum(me.contributed_keys)}`],
      [t('common.created_at'), fmtTime(me.created_at)],
    ])),
    card(t('account.password_title'), form));
}
