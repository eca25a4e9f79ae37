// Uploading a PDF with a real progress bar: fetch() reports no upload progress, so the
// multipart POST goes through XMLHttpRequest with the same credentials api.js sends (the
// bearer token, or the session cookie and the X-CSRF-Token header).
//
// Exports:
//   uploadPdf(path, file, fields, onProgress)
//       POST multipart/form-data (the `file` part, then the text `fields`) to /api/v1<path>;
//       onProgress(fraction 0..1) as the bytes leave; resolves to the decoded answer, rejects
//       with api.js's ApiError (status 0 when the connection failed)
//   uploadErrorMessage(error)      the server's refusal of an upload in the current language

import { API_BASE, ApiError, authHeaders, errorMessage } from "../api.js";
import { t } from "../i18n.js";
import { formatBytes } from "./dom.js";

/** Upload `file` (and text `fields`) to `path`; see the module comment. */
export async function uploadPdf(path, file, fields, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name);
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null && value !== "") {
      form.append(name, String(value));
    }
  }
  const headers = await authHeaders("POST");
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", API_BASE + path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(headers)) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) {
        onProgress(event.loaded / event.total);
      }
    });
    xhr.upload.addEventListener("load", () => onProgress(1));
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", "upload failed")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "network", "upload aborted")));
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null; // a proxy's HTML error page: keep the status only
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      const error = data && data.error ? data.error : {};
      reject(
        new ApiError(
          xhr.status,
          error.code || `http_${xhr.status}`,
          error.message || xhr.statusText,
          error.details,
        ),
      );
    });
    xhr.send(form);
  });
}

function invalidDocument(details) {
  switch (details && details.reason) {
    case "not_pdf":
      return t("console.upload.error.not_pdf");
    case "truncated":
      return t("console.upload.error.truncated");
    case "encrypted":
      return t("console.upload.error.encrypted");
    case "empty":
      return t("console.upload.error.empty");
    case "too_many_pages":
      return t("console.upload.error.too_many_pages", {
        pages: details.pages,
        max: details.max_pages,
      });
    case "too_complex":
    case "too_deep":
      return t("console.upload.error.too_complex");
    default:
      return t("console.upload.error.damaged");
  }
}

/** Why the server refused an upload, in the current language. */
export function uploadErrorMessage(error) {
  if (!(error instanceof ApiError)) {
    return t("console.upload.error.failed");
  }
  if (error.status === 0) {
    return t("console.upload.error.network");
  }
  switch (error.code) {
    case "invalid_document":
      return invalidDocument(error.details);
    case "invalid_input":
      return t("console.upload.error.bad_name");
    case "payload_too_large":
      return error.details && error.details.limit
        ? t("console.upload.error.too_large", { limit: formatBytes(error.details.limit) })
        : t("console.upload.error.too_large_unknown");
    case "unsupported_media_type":
    case "malformed_multipart":
      return t("console.upload.error.failed");
    default:
      return errorMessage(error);
  }
}
