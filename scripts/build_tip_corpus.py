"""Write tests/data/tip_corpus.csv: realistic tips labelled by construction.

Each tip is a situation (who, what, where) written the way people text: with diacritics or
without, in SMS shorthand, calm or panicked. The label comes from the situation, never from
Loa's rules: a minor involved → hotline_111; else the sea, a boat or a border crossing →
border_guard; else the district named → its police; else police_province. Every other of
those that applies is shared, and 111 is shared whenever a victim needs support. Urgent when
someone is in danger now. Run: python scripts/build_tip_corpus.py (deterministic).
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from campaigns.text import to_ascii_variant

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tip_corpus.csv"

PLACES = [  # how people name the place → its police queue
    ("ở Kế Sách", "police_ke_sach"), ("xã Đại Hải huyện Kế Sách", "police_ke_sach"),
    ("huyện Kế Sách", "police_ke_sach"), ("ở Vĩnh Châu", "police_vinh_chau"),
    ("thị xã Vĩnh Châu", "police_vinh_chau"), ("TX Vĩnh Châu", "police_vinh_chau"),
    ("ở Trần Đề", "police_tran_de"), ("huyện Trần Đề", "police_tran_de"),
    ("ở Mỹ Xuyên", "police_my_xuyen"), ("huyện Mỹ Tú", "police_my_tu"), ("ở Mỹ Tú", "police_my_tu"),
    ("ở Long Phú", "police_long_phu"), ("ở Cù Lao Dung", "police_cu_lao_dung"),
    ("ở Thạnh Trị", "police_thanh_tri"), ("thị xã Ngã Năm", "police_nga_nam"),
    ("ở Ngã Năm", "police_nga_nam"), ("ở Châu Thành", "police_chau_thanh"),
    ("thành phố Sóc Trăng", "police_tp_soc_trang"), ("TP Sóc Trăng", "police_tp_soc_trang"),
    ("", ""), ("", ""), ("", ""), ("", ""),
]  # fmt: skip


@dataclass(frozen=True)
class Situation:
    text: str  # {place} is filled in
    minor: bool = False
    border: bool = False
    victim: bool = False
    urgent: bool = False


SITUATIONS = [
    # adults, work scams, no victim identified yet
    Situation("Có người lạ đi tuyển lao động đi làm nhà hàng lương cao {place}, thấy đáng ngờ"),
    Situation("Có công ty tuyển người đi xuất khẩu lao động không cần hồ sơ {place}, nghi lừa đảo"),
    Situation("Trên Facebook có trang tuyển việc nhẹ lương cao, hẹn gặp {place}"),
    Situation("Nhóm Zalo rủ thanh niên đi làm việc online lương 30 triệu, gặp mặt {place}"),
    Situation("Có người môi giới lấy vợ nước ngoài cho các cô gái trong xóm {place}"),
    Situation("Có xe khách lạ hay đón người đi làm ăn xa vào ban đêm {place}"),
    Situation("Tôi nghi có đường dây mua bán người hoạt động {place}, ai cần tôi cung cấp thêm"),
    Situation("Báo tin: có người hứa đưa người đi làm ở thành phố, thu tiền trước {place}"),
    # adults, victims
    Situation("Chị tôi đi làm xa bị chủ giữ hết giấy tờ, không cho về {place}", victim=True, urgent=True),
    Situation("Anh tôi đi làm thuê bị bắt làm không công để trả nợ {place}", victim=True),
    Situation("Vợ tôi bị dụ đi làm quán karaoke rồi mất liên lạc, nhà {place}", victim=True),
    Situation("Con gái tôi 23 tuổi đi xuất khẩu lao động bị lừa, giờ không liên lạc được, nhà {place}", victim=True),
    Situation("Bạn tôi bị ép làm việc ở cơ sở massage, họ không cho ra ngoài {place}", victim=True, urgent=True),
    # adults, held or in danger now
    Situation("Cứu tôi, tôi đang bị nhốt trong nhà trọ {place}", victim=True, urgent=True),
    Situation("Khẩn cấp! Có người bị trói đưa lên xe {place}", victim=True, urgent=True),
    Situation("Chị tôi đang bị giữ trong một căn nhà {place}, họ đánh chị, giúp với", victim=True, urgent=True),
    Situation("Tối nay họ sẽ đưa mấy người phụ nữ đi {place}, làm ơn đến ngay", victim=True, urgent=True),
    Situation("Tôi bị bắt cóc, đang ở gần chợ {place}", victim=True, urgent=True),
    # the sea, boats, borders
    Situation("Tàu cá tuyển người đi biển, hứa lương cao nhưng giữ giấy tờ {place}", border=True, victim=True),
    Situation("Có ghe cào chở người lạ ra khơi ban đêm {place}", border=True),
    Situation("Có nhóm người tuyển lao động sang Campuchia làm việc {place}", border=True),
    Situation("Có người dụ thanh niên sang Trung Quốc làm công ty {place}", border=True),
    Situation("Thấy người lạ dẫn mấy cô gái đi về phía cửa khẩu {place}", border=True),
    Situation("Anh tôi đi tàu đánh bắt xa bờ bị đánh đập, không được về {place}", border=True, victim=True, urgent=True),
    Situation("Chồng tôi bị giữ trên tàu cá ngoài biển mấy tháng rồi {place}", border=True, victim=True, urgent=True),
    Situation("Cứu với, có người bị đưa lên thuyền ra biển ngay bây giờ {place}", border=True, victim=True, urgent=True),
    Situation("Đêm nay có nhóm người vượt biên sang Campuchia {place}, khẩn cấp", border=True, urgent=True),
    # minors
    Situation("Có người lạ dụ dỗ trẻ em đi làm xa {place}", minor=True),
    Situation("Con gái tôi 16 tuổi bị người quen rủ đi làm nhà hàng {place}", minor=True),
    Situation("Cháu học lớp 8 bị một người trên mạng rủ đi chơi xa {place}", minor=True),
    Situation("Mấy em học sinh bỏ học đi làm cho một quán cà phê lạ {place}", minor=True),
    Situation("Có người hỏi mua em bé sơ sinh {place}", minor=True, victim=True),
    Situation("Đứa nhỏ nhà hàng xóm 14 tuổi bị gả bán cho người nước ngoài {place}", minor=True, victim=True),
    Situation("Em gái tôi chưa đủ 18 bị dụ đi làm karaoke rồi bị giữ lại {place}", minor=True, victim=True, urgent=True),
    Situation("Cứu với, có bé gái đang bị nhốt trong nhà {place}", minor=True, victim=True, urgent=True),
    Situation("Khẩn cấp, mấy em gái 15 tuổi đang bị đưa lên tàu cá {place}", minor=True, border=True, victim=True, urgent=True),
    Situation("Có người lạ dụ con gái tôi sang Trung Quốc làm việc lương cao {place}", minor=True, border=True),
    Situation("Thằng bé 13t bị đưa sang Campuchia làm việc, nhà {place}", minor=True, border=True, victim=True),
    # hard negatives: a sign, a plate, a bigger salary
    Situation("Xe biển số lạ hay đón người đi làm ăn xa {place}"),
    Situation("Có biển quảng cáo tuyển lao động đi nước ngoài dán khắp nơi {place}"),
    Situation("Ở chỗ biển báo đầu ngõ có số điện thoại tuyển người lương gấp đôi {place}"),
    Situation("Người trẻ tuổi đến tuyển người đi làm, hứa lương gấp ba {place}"),
]  # fmt: skip

SHORTHAND = [  # what people type for what
    ("không", "ko"), ("không", "k"), ("được", "dc"), ("được", "đc"), ("người", "ng"),
    ("công ty", "cty"), ("với", "vs"), ("số điện thoại", "sdt"), ("Trung Quốc", "TQ"),
]  # fmt: skip
PANIC = ["", " !!!", " cần gấp", " giúp em với", ""]


def labels(s: Situation, place_queue: str) -> tuple[str, list[str], str]:
    matched = []
    if s.minor:
        matched.append("hotline_111")
    if s.border:
        matched.append("border_guard")
    if place_queue:
        matched.append(place_queue)
    queue = matched[0] if matched else "police_province"
    shared = set(matched[1:])
    if s.victim and queue != "hotline_111":
        shared.add("hotline_111")
    return queue, sorted(shared), "urgent" if s.urgent else "normal"


def write_like_people(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        text = to_ascii_variant(text)
        if rng.random() < 0.5:
            text = text.lower()
    if rng.random() < 0.4:
        for full, short in SHORTHAND:
            for form in (full, to_ascii_variant(full)):
                text = text.replace(f" {form} ", f" {short} ")
    return text


def main() -> int:
    rng = random.Random(30_7)  # 30 July
    rows = []
    for s in SITUATIONS:
        for place, queue in rng.sample(PLACES, 8):
            text = " ".join(s.text.format(place=place).split()).replace(" ,", ",")
            if s.urgent:
                text += rng.choice(PANIC)
            text = write_like_people(text, rng)
            q, shared, priority = labels(s, queue)
            rows.append((text, q, "|".join(shared), priority, ""))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "queue", "shared", "priority", "note"])
        writer.writerows(rows)
    print(f"{len(rows)} tips written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
