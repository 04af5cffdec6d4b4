"""Areas from presets and CSV files: all or nothing, legacy names find today's unit, and a
fresh install (migrations, a preset, users) routes tips by district with no demo data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import area_files
from campaigns.areas import AreaIndex, valid_queue
from campaigns.models import Area
from tests.integration.test_migrations import empty_database

BAD_FILE = """\
# a province's file with three mistakes
name,kind,parent,aliases,police_queue,coastal
Tỉnh A,province,,,police_province,0
Huyện B,district,Tỉnh A,Bê|B,police_b,0
Xã C,commune,Huyện Không Có,,,0
Xã D,commune,Xã E,bê,,0
Xã E,commune,Xã D,,,0
Xã F,commune,Tỉnh A,,Công an F,0
"""


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Area)) or 0)


def test_the_2024_preset_loads_the_plan_s_districts_and_their_communes(session: Session) -> None:
    """11 districts and towns, 108 communes, wards and townships; a commune's queue is its
    district's; loading again changes nothing."""
    report = area_files.load(session, "soc-trang-2024")
    session.commit()
    assert len(report.added) == 120 and not report.changed
    districts = session.scalars(select(Area).where(Area.kind.in_(("district", "town", "city"))))
    assert len(list(districts)) == 11
    index = AreaIndex.load(session)
    dai_hai = index.find("xa dai hai")
    assert dai_hai is not None and dai_hai.police_queue == "police_ke_sach"
    parent = session.get(Area, dai_hai.parent_id)
    assert parent is not None and parent.name == "Kế Sách"
    ward = index.find("Phuong 1, Vinh Chau")
    assert ward is not None and ward.police_queue == "police_vinh_chau"
    again = area_files.load(session, "soc-trang-2024")
    assert (again.added, again.changed, again.unchanged) == ([], [], 120)


def test_the_2025_preset_gives_every_commune_its_police_and_keeps_old_names(
    session: Session,
) -> None:
    """Cần Thơ's 103 communes and wards, each with its own valid queue; former Sóc Trăng names
    (district, commune, ward; with or without diacritics) find their successor."""
    area_files.load(session, "can-tho-2025")
    session.commit()
    units = list(session.scalars(select(Area).where(Area.kind != "province")))
    assert len(units) == 103
    queues = [a.police_queue or "" for a in units]
    assert len(set(queues)) == 103 and all(valid_queue(q) for q in queues)
    index = AreaIndex.load(session)
    expected = {
        "Huyện Kế Sách": "Xã Kế Sách",
        "ke sach": "Xã Kế Sách",
        "Xã Ba Trinh": "Xã Đại Hải",
        "dai hai": "Xã Đại Hải",
        "Thị trấn Châu Thành": "Xã Phú Tâm",
        "Phường 1 (Vĩnh Châu)": "Phường Vĩnh Châu",
        "TX Vinh Chau": "Phường Vĩnh Châu",
        "Thành phố Sóc Trăng": "Phường Sóc Trăng",
    }
    found = {old: getattr(index.find(old), "name", None) for old in expected}
    assert found == expected


def test_a_bad_file_is_refused_whole_with_every_problem(session: Session, tmp_path: Path) -> None:
    """Unknown parent, duplicate alias, a loop of parents and a bad queue: all listed, and not
    one row written."""
    path = tmp_path / "areas.csv"
    path.write_text(BAD_FILE, encoding="utf-8")
    with pytest.raises(area_files.AreaFileError) as refused:
        area_files.load(session, str(path))
    text = "\n".join(refused.value.problems)
    assert "unknown parent 'Huyện Không Có'" in text
    assert "duplicate alias 'bê'" in text
    assert "loop of parents" in text and "Xã D" in text
    assert "police queue 'Công an F'" in text
    assert len(refused.value.problems) == 4
    assert _count(session) == 0


def test_a_file_whose_alias_is_another_area_s_name_is_refused(
    session: Session, tmp_path: Path
) -> None:
    """An alias that already finds an area outside the file would make a name ambiguous."""
    area_files.load(session, "soc-trang-2024")
    session.commit()
    path = tmp_path / "extra.csv"
    path.write_text("name,kind,parent,aliases\nXã Mới,commune,Kế Sách,Đại Hải\n", encoding="utf-8")
    with pytest.raises(area_files.AreaFileError, match="duplicate alias 'Đại Hải'"):
        area_files.load(session, str(path))
    assert _count(session) == 120


def test_cli_loads_a_preset_and_reports(runner: Any, session: Session, tmp_path: Path) -> None:
    """`loa areas load` says what it added; a bad file exits non-zero and lists its problems."""
    result = runner.invoke(args=["areas", "load", "soc-trang-2024"])
    assert result.exit_code == 0, result.output
    assert "120 added, 0 changed, 0 unchanged" in result.output
    path = tmp_path / "bad.csv"
    path.write_text(BAD_FILE, encoding="utf-8")
    bad = runner.invoke(args=["areas", "load", str(path)])
    assert bad.exit_code == 1
    assert "unknown parent" in bad.output and "nothing loaded" in bad.output
    missing = runner.invoke(args=["areas", "load", "no-such-preset"])
    assert missing.exit_code == 1 and "can-tho-2025" in missing.output


def _loa(env: dict[str, str], *args: str) -> str:
    loa = Path(sys.executable).with_name("loa")
    done = subprocess.run([str(loa), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_fresh_install_routes_by_district_without_demo_data(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """`loa db upgrade`, `loa areas load soc-trang-2024`, `loa users create`: a tip naming a
    commune goes to its district's police, a child's to 111, the rest to the province."""
    url = empty_database(database_url, tmp_path, "loa_fresh")
    env = {
        "LOA_VAR_DIR": str(tmp_path),
        "LOA_DATABASE_URL": url,
        "LOA_REDIS_URL": redis_url,
        "PATH": "/usr/bin:/bin",
    }
    _loa(env, "db", "upgrade")
    assert "120 added" in _loa(env, "areas", "load", "soc-trang-2024")
    _loa(env, "users", "create", "ks@loa.test", "--role", "police", "--scope", "police_ke_sach")
    from campaigns.db import make_engine
    from gateway.tips.routing import route_tip_text

    eng = make_engine(url)
    try:
        with Session(eng) as s:
            assert (
                route_tip_text(s, "Có người lạ hay lui tới ấp ở xã Đại Hải").queue
                == "police_ke_sach"
            )
            assert (
                route_tip_text(s, "nghi mua ban nguoi o phuong 2 vinh chau").queue
                == "police_vinh_chau"
            )
            assert route_tip_text(s, "Có trẻ em bị dụ dỗ ở Mỹ Tú").queue == "hotline_111"
            assert route_tip_text(s, "Tôi thấy chuyện lạ").queue == "police_province"
    finally:
        eng.dispose()


def test_the_areas_page_searches_and_edits_with_audit(
    client: Any, login_as: Any, session: Session
) -> None:
    """Search ignores case and diacritics; an edit is audited; a bad queue or an alias another
    area answers to is a 400 that changes nothing."""
    from gateway.models import AuditEvent

    area_files.load(session, "soc-trang-2024")
    session.commit()
    login_as("admin")
    page = client.get("/areas/", query_string={"q": "XA DAI HAI"}).get_data(as_text=True)
    assert "Xã Đại Hải" in page and "Xã Phú Tâm" not in page
    area = AreaIndex.load(session).find("Xã Đại Hải")
    assert area is not None
    url = f"/areas/{area.id}/edit"
    ok = client.post(url, data={"aliases": "Đại Hải\nDai Hai cu", "police_queue": "police_dai_hai"})
    assert ok.status_code == 303
    bad_queue = client.post(url, data={"aliases": "Đại Hải", "police_queue": "Công an"})
    taken = client.post(url, data={"aliases": "Kế Sách", "police_queue": "police_dai_hai"})
    assert (bad_queue.status_code, taken.status_code) == (400, 400)
    assert "Kế Sách" in taken.get_data(as_text=True)
    session.expire_all()
    edited = session.get(Area, area.id)
    assert edited is not None
    assert (edited.aliases, edited.police_queue) == (["Đại Hải", "Dai Hai cu"], "police_dai_hai")
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "area.edit")))
    assert len(events) == 1 and events[0].details["before"]["police_queue"] == "police_ke_sach"
    login_as("editor")
    assert client.get("/areas/").status_code == 403


@pytest.mark.parametrize("preset", ["soc-trang-2024", "can-tho-2025"])
def test_an_import_recognises_real_communes_by_any_name(session: Session, preset: str) -> None:
    """Communes and wards written old or new, with or without diacritics, are found: the import
    reports none of them as unrecognised, and the 2025 preset files them under the successor."""
    import io

    from campaigns.importing import import_contacts
    from campaigns.models import Contact

    area_files.load(session, preset)
    session.commit()
    data = (
        "số điện thoại,họ tên,huyện,xã\n"
        "0912345678,Chị Hồng,Huyện Kế Sách,Xã Ba Trinh\n"
        "0987654321,Anh Đức,tran de,xa lieu tu\n"
        "0333444555,Chị Sa,TX Vĩnh Châu,Phường 1 (Vĩnh Châu)\n"
    ).encode()
    result = import_contacts(session, io.BytesIO(data), "xa-phuong")
    session.commit()
    assert result.added == 3
    assert result.unknown_areas == {}
    wards = session.execute(
        select(Contact.phone, Area.name).join(Area, Area.id == Contact.ward_id)
    ).all()
    expected_2025 = {
        "+84912345678": "Xã Đại Hải",
        "+84987654321": "Xã Liêu Tú",
        "+84333444555": "Phường Vĩnh Châu",
    }
    if preset == "can-tho-2025":
        assert dict(wards) == expected_2025
    else:
        assert len(wards) == 3
