"""Vietnamese personal names with their diacritics, drawn with the frequencies surnames really have."""
from __future__ import annotations

import random

# The most common surnames and roughly how often they occur (Nguyễn alone is close to four in ten).
SURNAMES = (("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 4), ("Phan", 4),
            ("Vũ", 4), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2), ("Ngô", 2), ("Dương", 1),
            ("Lý", 1), ("Đinh", 1), ("Trương", 1), ("Lương", 1), ("Mai", 1))
MIDDLE = {"f": ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Bảo", "Khánh", "Phương"),
          "m": ("Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh", "Công", "Gia")}
GIVEN = {"f": ("Hoa", "Mai", "Lan", "Hương", "Trang", "Yến", "Thảo", "Linh", "Ngọc", "Hằng", "Nhung", "Phượng",
               "Dung", "Thúy", "Hạnh", "Quyên", "Vy", "Ánh", "Loan", "Diệp"),
         "m": ("Nam", "Hùng", "Dũng", "Tuấn", "Sơn", "Bảo", "Anh", "Long", "Phúc", "Khoa", "Huy", "Quang", "Thắng",
               "Đạt", "Hiếu", "Trung", "Lộc", "Kiên", "Việt", "Cường")}


def full_name(rng: random.Random, sex: str) -> str:
    surnames, weights = zip(*SURNAMES)
    return f"{rng.choices(surnames, weights)[0]} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
