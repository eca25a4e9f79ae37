// Names of the directory's enumerations in the current language, and date formatting for the
// admin pages. Keys are spelled out literally so the catalogue test can find them.
//
// Exports:
//   ROLES                      the account roles, in the order the forms offer them
//   roleLabel(role)            "Quản trị viên", "Chủ trì", ... (role "endpoint" too)
//   kindLabel(kind)            "Cấp tỉnh", "Cấp huyện", "Cấp xã"
//   formatDateTime(iso)        a timestamp as local date and time in the current language

import { t } from "../i18n.js";

export { formatDateTime } from "../i18n.js";

export const ROLES = Object.freeze(["admin", "chair", "secretary", "delegate", "observer"]);

const ROLE_LABELS = Object.freeze({
  admin: () => t("role.admin"),
  chair: () => t("role.chair"),
  secretary: () => t("role.secretary"),
  delegate: () => t("role.delegate"),
  observer: () => t("role.observer"),
  endpoint: () => t("role.endpoint"),
});

const KIND_LABELS = Object.freeze({
  province: () => t("admin.kind.province"),
  district: () => t("admin.kind.district"),
  commune: () => t("admin.kind.commune"),
});

/** The role's name in the current language (the raw value if the server adds a new one). */
export function roleLabel(role) {
  return ROLE_LABELS[role] ? ROLE_LABELS[role]() : String(role);
}

/** The unit level's name in the current language. */
export function kindLabel(kind) {
  return KIND_LABELS[kind] ? KIND_LABELS[kind]() : String(kind);
}

