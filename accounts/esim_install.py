"""What a customer needs to install an eSIM: a QR code of its activation code, Apple's direct
install link (iOS 17.4 and later open it in Settings), and the SM-DP+ address and matching id
to type by hand on phones that cannot scan."""

from dataclasses import dataclass
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.core.exceptions import ValidationError

from accounts.models import SimLine
from reseller.validators import parse_activation_code

APPLE_INSTALL_URL = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata="


@dataclass(frozen=True)
class EsimInstall:
    activation_code: str
    smdp_address: str
    matching_id: str
    ios_url: str
    qr_svg: str


def esim_install(line: SimLine) -> EsimInstall | None:
    if line.kind != SimLine.Kind.ESIM or not line.activation_code:
        return None
    try:
        smdp, matching_id = parse_activation_code(line.activation_code)
    except ValidationError:
        return None
    return EsimInstall(
        activation_code=line.activation_code,
        smdp_address=smdp,
        matching_id=matching_id,
        ios_url=APPLE_INSTALL_URL + quote(line.activation_code, safe=""),
        qr_svg=qr_svg(line.activation_code),
    )


def qr_svg(text: str) -> str:
    """An inline SVG (no image library, no file): medium error correction, as phones scan."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=2)
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")
