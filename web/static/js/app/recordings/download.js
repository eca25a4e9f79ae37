// A download link on the recordings page, for a recording's file or one of its track files.
// With a cookie session the link is the file's API URL (the browser sends the cookie, the
// server names the file); a device's bearer token cannot ride on a link, so its click fetches
// a copy with the token (source.js) and saves that under the same name.
//
// Exports:
//   downloadLink({text, label, fileName, href, direct, copy, onError})
//       text: what the link says; label: its accessible name; fileName: what it is saved as;
//       href: the file's API URL; direct: whether that URL works as it is; copy(): resolves
//       to a URL to save from when it does not; onError(error) when that fails

/** An <a class="button download"> that saves a file the way this page's session allows. */
export function downloadLink({ text, label, fileName, href, direct, copy, onError }) {
  const link = document.createElement("a");
  link.className = "button download";
  link.textContent = text;
  link.setAttribute("aria-label", label);
  link.download = fileName;
  link.href = direct ? href : "#";
  if (!direct) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      try {
        const saver = document.createElement("a");
        saver.href = await copy();
        saver.download = fileName;
        saver.click();
      } catch (error) {
        onError(error);
      }
    });
  }
  return link;
}
