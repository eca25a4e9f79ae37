// The password login form of index.html.
//
// Exports:
//   mountLogin({form, username, password, submit, error}, onLoggedIn)
//       wire the form: Enter or the button submits, errors are shown in the current language
//       (and re-translated when the language changes); onLoggedIn(account) after success.
//       Returns {reset()} to clear the form and its error (after a logout).

import { errorMessage, login } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";

/** Wire the login form; see the module comment. */
export function mountLogin(elements, onLoggedIn) {
  const { form, username, password, submit, error } = elements;
  // A function, not a string, so a language switch can re-render the message.
  let message = null;

  function render() {
    error.hidden = message === null;
    error.textContent = message === null ? "" : message();
  }

  function fail(messageFn, field) {
    message = messageFn;
    render();
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }

  onLanguageChange(render);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    username.removeAttribute("aria-invalid");
    password.removeAttribute("aria-invalid");
    const name = username.value.trim();
    if (!name || !password.value) {
      fail(() => t("login.error.required"), name ? password : username);
      return;
    }
    submit.disabled = true;
    submit.textContent = t("login.submitting");
    try {
      const account = await login(name, password.value);
      message = null;
      render();
      password.value = "";
      onLoggedIn(account);
    } catch (caught) {
      password.value = "";
      fail(
        () => errorMessage(caught, { unauthenticated: t("login.error.wrong_credentials") }),
        password,
      );
    } finally {
      submit.disabled = false;
      submit.textContent = t("login.submit");
    }
  });

  return {
    reset() {
      form.reset();
      message = null;
      render();
    },
  };
}
