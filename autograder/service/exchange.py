"""nbgrader's exchange as the service meets it, with nbgrader's own semantics and code.

`nbgrader submit` leaves <exchange>/<course>/inbound/<student>+<assignment>+<timestamp>[+random]/
with the notebook, then timestamp.txt, then submission_secret.txt (written last: a folder
without it is still being copied). Collecting one copies it into submitted/<student>/<assignment>/
with nbgrader's own do_copy (CourseDirectory.ignore, include, size limits), unless submitted/
already holds a newer one, as `nbgrader collect --update` does. A page is published as
`nbgrader release_feedback` publishes it: <exchange>/<course>/feedback/<md5(secret + notebook)>.html,
which `nbgrader fetch_feedback` finds by hashing the student's own copy of the secret.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from stat import S_IRUSR, S_IWUSR, S_IXGRP, S_IXOTH, S_IXUSR

from ..course import records
from ..homework import spec

ENTRY = tuple[str, str, float, str]  # (student, timestamp text, epoch seconds, where it is)


def _when(stamp: str) -> float | None:
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(stamp).timestamp()
    except (ValueError, OverflowError, TypeError):
        return None


def _head(path: Path, size: int = 1000) -> str:
    """The start of a small file a student wrote (never the whole of a huge one, never through a link)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        return file.read(size).decode()


def _ready(folder: Path) -> str | None:
    """The submission's timestamp.txt once the folder is complete (both exchange files written)."""
    try:
        if not _head(folder / records.SECRET).strip():
            return None
        return _head(folder / records.TIMESTAMP).strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def inbound(exchange_root: str, course_id: str) -> Path:
    return Path(exchange_root) / course_id / "inbound"


def scan_inbound(folder: Path, known: set[tuple[str, str]], refused: list[str] | None = None) -> Iterator[ENTRY]:
    """The complete submissions of the assignment in inbound/ not among known (student, timestamp);
    folder names that name no valid student go to refused (and into known: looked at once)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(names):
        parts = name.rsplit("+", 3)  # as nbgrader's collect splits it (a student id may hold '+')
        if len(parts) < 3 or parts[1] != spec.ASSIGNMENT or (parts[0], parts[2]) in known:
            continue
        if not valid_student(parts[0]):
            known.add((parts[0], parts[2]))
            if refused is not None:
                refused.append(name)
            continue
        if _ready(folder / name) is None or (at := _when(parts[2])) is None:
            continue
        yield parts[0], parts[2], at, name


def scan_submitted(root: Path, known: set[tuple[str, str]]) -> Iterator[ENTRY]:
    """Submissions placed in submitted/ (zip_collect, by hand) not among known; timestamp.txt names them."""
    for folder in sorted((root / "submitted").glob(f"*/{spec.ASSIGNMENT}")):
        try:
            stamp = (folder / records.TIMESTAMP).read_text().strip()
        except (OSError, UnicodeDecodeError):
            continue
        if stamp and (folder.parent.name, stamp) not in known and (at := _when(stamp)) is not None:
            yield folder.parent.name, stamp, at, str(folder)


class NotCollected(Exception):
    """A submission folder nbgrader submit cannot have left (a link, a pipe, too big): the message says why."""


def valid_student(student: str) -> bool:
    """A student id that names one folder under submitted/ (nothing a hostile --student could aim elsewhere)."""
    return (0 < len(student) <= 100 and student.isprintable() and not student.startswith(".")
            and not any(c.isspace() or c in "/\\" for c in student))


def _copy(coursedir, source: Path, target: Path) -> None:
    """nbgrader's do_copy (the size limit, CourseDirectory.ignore and include, max_file_size),
    except that a symbolic link is copied as a link and refused after: following one would copy,
    as the grader's user, whatever file the student pointed it at (the source notebook, the
    gradebook). `nbgrader submit` resolves links as the student, so a real submission has none."""
    from nbgrader.utils import ignore_patterns

    size = 0
    for folder, _, files in os.walk(source):
        size += sum(os.lstat(os.path.join(folder, f)).st_size for f in files)
    if size > 1000 * coursedir.max_dir_size:
        raise NotCollected(f"the submission is {size} bytes, above CourseDirectory.max_dir_size")
    try:
        shutil.copytree(source, target, symlinks=True,
                        ignore=ignore_patterns(exclude=coursedir.ignore, include=coursedir.include,
                                               max_file_size=coursedir.max_file_size))
    except (shutil.Error, shutil.SpecialFileError) as error:
        raise NotCollected(f"the submission holds a file that is not a regular file ({str(error)[:200]})") from None
    for folder, dirs, files in os.walk(target):
        for name in dirs + files:
            if os.path.islink(os.path.join(folder, name)):
                shutil.rmtree(target, ignore_errors=True)
                raise NotCollected("the submission holds a symbolic link, which `nbgrader submit` never leaves")


def checks_owner(config) -> bool:
    """Whether the course keeps nbgrader collect's owner check (ExchangeCollect.check_owner, on by default)."""
    from nbgrader.exchange.default.collect import ExchangeCollect

    return ExchangeCollect(config=config, coursedir=None, authenticator=None).check_owner


def owner_differs(source: Path, student: str) -> str | None:
    """nbgrader collect's warning: the folder's owner is not the student it names. On a hub each
    student is a user, so this flags a `--student=someone-else`."""
    import pwd

    try:
        owner = pwd.getpwuid(os.stat(source).st_uid).pw_name
    except (KeyError, OSError):
        owner = "unknown id"
    return None if owner == student else f"claims to be {student!r} but is owned by {owner!r}: cheating attempt?"


def collect(coursedir, config, source: Path, student: str) -> bool:
    """Copy one inbound submission into submitted/<student>/<assignment>/ whole (built beside it,
    renamed into place). False when submitted/ already holds a newer submission."""

    target = Path(coursedir.format_path(coursedir.submitted_directory, student, spec.ASSIGNMENT))
    new, old = coursedir.get_existing_timestamp(str(source)), None
    if target.is_dir():
        old = coursedir.get_existing_timestamp(str(target))
        if old is not None and new is not None and old >= new:
            return old == new  # already collected (a restart), or a newer one is there
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = records.partial_folder(target)
    shutil.rmtree(partial)  # copytree makes it
    _copy(coursedir, source, partial)
    records.put_in_place(partial, target)
    return True


def clean_collect_leftovers(root: Path) -> None:
    for name in (records.PARTIAL, records.OLD):
        for path in (root / "submitted").glob(f"*/{name}"):
            shutil.rmtree(path, ignore_errors=True)


def outbound(exchange_root: str, course_id: str) -> Path:
    return Path(exchange_root) / course_id / "feedback"


def page_name(secret: str) -> str:
    from nbgrader.utils import notebook_hash

    return f"{notebook_hash(secret=secret, notebook_id=spec.NOTEBOOK)}.html"


def publish(exchange_root: str, course_id: str, secret: str, html_text: str) -> Path:
    """Put a page where fetch_feedback finds it for this secret, replacing any page there whole."""
    folder = outbound(exchange_root, course_id)
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        # 0711, as release_feedback makes it: a student finds a page only by its hash.
        os.chmod(folder, S_IRUSR | S_IWUSR | S_IXUSR | S_IXGRP | S_IXOTH)
    target = folder / page_name(secret)
    partial = folder / f".{target.name}.partial"
    partial.write_text(html_text)
    os.chmod(partial, 0o644)
    os.replace(partial, target)
    return target


def withdraw(exchange_root: str, course_id: str, name: str) -> bool:
    """Remove a published page (an older submission's, now replaced) by its file name."""
    try:
        (outbound(exchange_root, course_id) / Path(name).name).unlink()
        return True
    except FileNotFoundError:
        return False


def secret_of(folder: Path) -> str | None:
    try:
        return _head(folder / records.SECRET) or None
    except (OSError, UnicodeDecodeError):
        return None
