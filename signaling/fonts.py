"""The Unicode TTF fonts phonghop embeds in the PDFs it makes (minutes, confidential stamps).

DejaVu Sans comes from the npm package ``dejavu-fonts-ttf`` installed with the web client
(``npm ci --prefix web``): closed government networks have no font CDN, and a Debian font
package may be missing on a fresh server. Settings can point elsewhere.
"""

from signaling.static_routes import NODE_MODULES

DEFAULT_FONT_DIR = NODE_MODULES / "dejavu-fonts-ttf" / "ttf"
DEFAULT_REGULAR = DEFAULT_FONT_DIR / "DejaVuSans.ttf"
DEFAULT_BOLD = DEFAULT_FONT_DIR / "DejaVuSans-Bold.ttf"
