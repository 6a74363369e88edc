"""The URLs a client is handed: token-signed links of this service, or storage's own.

Tokens are minted and checked here, for one purpose each, bound to the file,
the storage upload and the part they grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from uploadcore.domain.errors import TokenInvalid, TokenMissing
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.blobs import BlobStore, PresignsUrls
from uploadcore.ports.clock import Clock
from uploadcore.ports.links import Links
from uploadcore.ports.signer import Signer, TokenClaims
from uploadcore.services.records import UploadPolicy

PART_PURPOSE = "upload-part"
DOWNLOAD_PURPOSE = "download"


@dataclass(frozen=True)
class PartUrl:
    part_number: int
    url: str
    method: str = "PUT"


class Urls:
    """Mints part and file URLs valid for the policy's URL lifetime, and checks their tokens."""

    def __init__(self, blobs: BlobStore, signer: Signer, clock: Clock, policy: UploadPolicy):
        self.signer = signer
        self.clock = clock
        self.lifetime = policy.url_expires_in
        # Checked once: a Protocol isinstance costs more than signing a URL.
        self.presigner = blobs if isinstance(blobs, PresignsUrls) else None

    def parts(
        self, upload: Upload, numbers: Sequence[int], links: Links, *, sized: bool = True
    ) -> tuple[PartUrl, ...]:
        """One URL per part number, in the order given.

        Storage's own presigned URLs when it has them (S3), else token-signed
        links of this service. `sized`: each binds its part's planned size (an
        upload of open length has none).
        """
        now = self.clock.now()
        if self.presigner is not None:
            presign = self.presigner.part_urls
            # `sized` is named only when false: a store written before it still serves plans.
            if sized:
                urls = presign(upload, numbers, now, self.lifetime)
            else:
                urls = presign(upload, numbers, now, self.lifetime, sized=False)
            return tuple(PartUrl(n, url) for n, url in zip(numbers, urls, strict=True))
        expires = int((now + self.lifetime).timestamp())
        sign, link = self.signer.sign, links.part_upload
        file_id, upload_id = upload.id, upload.upload_id
        return tuple(
            PartUrl(
                n, link(file_id, n, sign(TokenClaims(PART_PURPOSE, file_id, upload_id, n, expires)))
            )
            for n in numbers
        )

    def file(self, upload: Upload, links: Links) -> str | None:
        """A URL that fetches the completed file as it is; None before completion."""
        if upload.status is not UploadStatus.COMPLETED:
            return None
        now = self.clock.now()
        if self.presigner is not None:
            return self.presigner.file_url(upload, now, self.lifetime)
        expires = int((now + self.lifetime).timestamp())
        claims = TokenClaims(DOWNLOAD_PURPOSE, upload.id, upload.upload_id, 0, expires)
        return links.download(upload.id, self.signer.sign(claims))

    def check_part_token(self, token: str | None, file_id: str, part_number: int) -> TokenClaims:
        """The claims of a part token minted for this file and part; the token errors otherwise."""
        if not token:
            raise TokenMissing("the part URL has no token; ask for fresh part URLs")
        claims = self.signer.verify(token, PART_PURPOSE, self.clock.now())
        if claims.file_id != file_id:
            raise TokenInvalid("the token was minted for another file")
        if claims.part_number != part_number:
            raise TokenInvalid(f"the token was minted for part {claims.part_number}")
        return claims

    def check_download_token(self, token: str | None, file_id: str) -> TokenClaims:
        """The claims of a download token minted for this file; the token errors otherwise."""
        if not token:
            raise TokenMissing("the download URL has no token; fetch the file's url again")
        claims = self.signer.verify(token, DOWNLOAD_PURPOSE, self.clock.now())
        if claims.file_id != file_id:
            raise TokenInvalid("the token was minted for another file")
        return claims


__all__ = ["DOWNLOAD_PURPOSE", "PART_PURPOSE", "PartUrl", "Urls"]
