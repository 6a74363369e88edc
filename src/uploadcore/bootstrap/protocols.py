"""The use cases of the protocols that fill uploads by other means than parts: tus and Uppy.

Built by `build` where the repository and storage can take them.
"""

from __future__ import annotations

from dataclasses import dataclass

from uploadcore.ports.appends import AppendRepository, AppendsBytes
from uploadcore.ports.blobs import BlobStore, PostsForms
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.repository import UploadRepository
from uploadcore.ports.signer import Signer
from uploadcore.services.aborting import Aborter
from uploadcore.services.append import AppendBytes, AppendedState
from uploadcore.services.append_start import Concatenate, StartAppend
from uploadcore.services.appended import Finisher
from uploadcore.services.arrivals import ArrivalWatch, CheckArrival
from uploadcore.services.events import Events
from uploadcore.services.forms import ReceiveForm, StartForm
from uploadcore.services.records import UploadPolicy


@dataclass(frozen=True)
class Appends:
    """The use cases of uploads filled by appending (tus), where storage takes appends."""

    start: StartAppend
    append: AppendBytes
    state: AppendedState
    concatenate: Concatenate


@dataclass(frozen=True)
class Uppy:
    """The use cases of Uppy's uploads of open length: multipart ones, and one-form ones.

    `receive_form` where the service takes the form itself (local disk);
    `arrivals` and `watch` where storage does (S3: POST policies).
    """

    start: StartAppend
    start_form: StartForm
    receive_form: ReceiveForm | None
    arrivals: CheckArrival | None
    watch: ArrivalWatch | None


def appends_of(
    repo: UploadRepository,
    blobs: BlobStore,
    clock: Clock,
    ids: IdGenerator,
    policy: UploadPolicy,
    events: Events,
) -> Appends | None:
    if not (isinstance(repo, AppendRepository) and isinstance(blobs, AppendsBytes)):
        return None
    start = StartAppend(repo, repo, blobs, clock, ids, policy, events)
    finish = Finisher(repo, repo, blobs, clock, policy, events)
    return Appends(
        start=start,
        append=AppendBytes(repo, repo, blobs, clock, policy, finish),
        state=AppendedState(repo, repo, blobs),
        concatenate=Concatenate(start, blobs, finish),
    )


def uppy_of(
    repo: UploadRepository,
    blobs: BlobStore,
    signer: Signer,
    clock: Clock,
    ids: IdGenerator,
    policy: UploadPolicy,
    events: Events,
    aborter: Aborter,
) -> Uppy | None:
    if not isinstance(repo, AppendRepository):
        return None
    start = StartAppend(repo, repo, blobs, clock, ids, policy, events)
    receive_form = arrivals = watch = None
    if isinstance(blobs, PostsForms):
        arrivals = CheckArrival(repo, repo, blobs, clock, events, aborter)
        watch = ArrivalWatch(arrivals, clock)
    elif isinstance(blobs, AppendsBytes):
        finish = Finisher(repo, repo, blobs, clock, policy, events)
        receive_form = ReceiveForm(repo, repo, blobs, signer, clock, policy, finish, aborter)
    return Uppy(
        start=start,
        start_form=StartForm(start.open, blobs, signer, clock, policy),
        receive_form=receive_form,
        arrivals=arrivals,
        watch=watch,
    )


__all__ = ["Appends", "Uppy", "appends_of", "uppy_of"]
