"""Deterministic demo data: one county (长春市双阳区) and its stations, farmers, suppliers, products.

Running it twice changes nothing (everything is keyed by natural codes). See also
``generate_province`` for province-scale benchmark data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.sites.models import Site
from django.db import transaction
from oscar.core.loading import get_model

from marketplace.accounts.models import Role, User
from marketplace.apps.catalogue.product_types import (
    FARM_SUPPLY,
    FERTILIZER,
    PESTICIDE,
    PRODUCE,
    SEED,
    ensure_product_types,
)
from marketplace.apps.partner.models import PartnerKind, VerificationStatus
from marketplace.core.money import cny
from marketplace.stations.models import (
    County,
    CountyAssignment,
    Household,
    Station,
    StationStaff,
    Township,
    Village,
)

DEMO_PASSWORD = "nongzi-demo-2026"  # noqa: S105 - printed on purpose for the demo

COUNTY = {"code": "220112", "name": "双阳区", "city": "长春市", "province": "吉林省"}
CENTER = (43.525, 125.664)  # lat, lon of 双阳区
TOWNSHIPS = ["云山街道", "平湖街道", "奢岭街道", "山河街道", "太平镇", "鹿乡镇", "齐家镇", "双营子回族乡"]
VILLAGE_STEMS = (
    "东 西 南 北 前 后 上 下 大 小 新 老 长 双 三 五 马 杨 李 王 张 刘 孙 高 黄 石 河 沟 岭 山".split()
)
VILLAGE_SUFFIX = ["屯村", "家村", "岗村", "台村", "沟村", "甸子村", "营村", "堡村"]
SURNAMES = "王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹".split()
GIVEN = "国 建 志 明 春 玉 凤 秀 英 华 文 军 海 福 贵 宝 金 桂 兰 芳 德 成 山 林 平 有 顺 庆 喜 发".split()

SUPPLIERS = [
    ("吉林省农资集团双阳供应站", "91220112MA0Y00001A"),
    ("中化化肥吉林分公司", "91220101MA0Y00002B"),
    ("长春云天化肥业有限公司", "91220102MA0Y00003C"),
    ("吉林农大种业有限公司", "91220103MA0Y00004D"),
    ("吉农高新种业双阳经销部", "91220104MA0Y00005E"),
    ("长春绿丰植保有限公司", "91220105MA0Y00006F"),
    ("双阳区丰收农机农资商店", "91220112MA0Y00007G"),
    ("吉林金土地复合肥厂", "91220106MA0Y00008H"),
]
COOPERATIVES = [
    "双阳区鹿乡梅花鹿养殖专业合作社",
    "奢岭镇黏玉米种植专业合作社",
    "齐家镇有机大米专业合作社",
    "太平镇杂粮种植专业合作社",
    "山河街道蓝莓专业合作社",
]

FERTILIZERS = [
    # title, N, P2O5, K2O, chloride class, bag kg, base price per bag
    ("尿素 46%", 46, 0, 0, "none", 40, "108.00"),
    ("磷酸二铵 18-46-0", 18, 46, 0, "none", 50, "185.00"),
    ("氯化钾 60%", 0, 0, 60, "high", 50, "160.00"),
    ("硫酸钾 50%", 0, 0, 50, "none", 50, "210.00"),
    ("复合肥 15-15-15 硫酸钾型", 15, 15, 15, "none", 40, "150.00"),
    ("玉米专用肥 15-18-12 (半湿润区)", 15, 18, 12, "low", 40, "142.00"),
    ("玉米专用肥 13-20-12 (半干旱区)", 13, 20, 12, "low", 40, "140.00"),
    ("玉米专用肥 14-18-13 (冷凉区)", 14, 18, 13, "low", 40, "141.00"),
    ("玉米一次性肥 29-13-10 缓释", 29, 13, 10, "medium", 40, "168.00"),
]
SEEDS = [
    ("吉单27 玉米种子", "玉米", "吉单27", "吉审玉2003001", 93, 10, "260.00"),
    ("吉单50 玉米种子", "玉米", "吉单50", "国审玉20180123", 95, 10, "285.00"),
    ("良玉99 玉米种子", "玉米", "良玉99", "国审玉2016008", 94, 10, "270.00"),
    ("吉育47 大豆种子", "大豆", "吉育47", "吉审豆2005002", 90, 20, "180.00"),
    ("吉粳816 水稻种子", "水稻", "吉粳816", "吉审稻20170020", 92, 10, "95.00"),
]
PESTICIDES = [
    ("莠去津 38% 悬浮剂", "莠去津", "低毒", False, "1 L", "38.00"),
    ("烟嘧磺隆 4% 悬浮剂", "烟嘧磺隆", "低毒", False, "1 L", "32.00"),
    ("氯虫苯甲酰胺 20% 悬浮剂", "氯虫苯甲酰胺", "微毒", False, "100 mL", "56.00"),
    ("甲拌磷 5% 颗粒剂 (限制使用)", "甲拌磷", "高毒", True, "1 kg", "25.00"),
]
SUPPLIES = [("农用地膜 0.01mm", "1 卷 4 kg", "85.00"), ("喷雾器 16L 背负式", "16 L", "120.00")]
PRODUCE_ITEMS = [
    ("双阳黏玉米 真空包装 10穗", "奢岭街道", "一级", "3.0", "49.00"),
    ("齐家有机大米 10kg", "齐家镇", "特级", "10", "128.00"),
    ("太平小米 5kg", "太平镇", "一级", "5", "55.00"),
    ("山河蓝莓 2kg 礼盒", "山河街道", "特级", "2", "98.00"),
    ("鹿乡黄豆 5kg", "鹿乡镇", "一级", "5", "42.00"),
]


@dataclass
class DemoSummary:
    stations: int
    households: int
    suppliers: int
    cooperatives: int
    products: int
    logins: dict[str, str]


def _user(username: str, role: str, name: str, phone: str | None = None, **extra) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "display_name": name, "phone": phone, **extra}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")


@transaction.atomic
def seed_demo(villages: int = 60, households: int = 500, seed: int = 2020) -> DemoSummary:
    rng = random.Random(seed)
    Site.objects.update_or_create(
        pk=settings.SITE_ID, defaults={"domain": settings.SITE_DOMAIN, "name": "益农直采"}
    )
    county, _ = County.objects.update_or_create(code=COUNTY["code"], defaults=COUNTY)
    townships = [Township.objects.get_or_create(county=county, name=n)[0] for n in TOWNSHIPS]

    stations: list[Station] = []
    used_names: set[str] = set()
    for i in range(villages):
        township = townships[i % len(townships)]
        while True:
            vname = rng.choice(VILLAGE_STEMS) + rng.choice(VILLAGE_STEMS) + rng.choice(VILLAGE_SUFFIX)
            if vname not in used_names:
                used_names.add(vname)
                break
        village, _ = Village.objects.get_or_create(township=township, name=vname)
        lat = Decimal(str(round(CENTER[0] + rng.uniform(-0.22, 0.22), 6)))
        lon = Decimal(str(round(CENTER[1] + rng.uniform(-0.28, 0.28), 6)))
        station, _ = Station.objects.update_or_create(
            code=f"JL220112{i + 1:03d}",
            defaults={
                "name": f"{vname}益农信息社",
                "village": village,
                "latitude": lat,
                "longitude": lon,
                "address": f"吉林省长春市双阳区{township.name}{vname}村委会",
                "phone": f"139{4300 + i:04d}{rng.randint(1000, 9999)}",
                "opens_at": "07:30" if i % 3 == 0 else "08:00",
                "closes_at": "17:00" if i % 4 == 0 else "18:00",
            },
        )
        stations.append(station)

    # Accounts, one per role (plus a second station's staff to show tenancy).
    logins = {}
    operator = _user("operator", Role.OPERATOR, "平台运营", is_staff=True, is_superuser=True)
    logins["平台运营 operator"] = operator.username
    for n, station in enumerate(stations[:2], start=1):
        staff = _user(
            f"station{n:02d}", Role.STATION_STAFF, f"{station.name[:-5]}信息员", phone=f"1350000000{n}"
        )
        StationStaff.objects.get_or_create(station=station, user=staff, defaults={"is_manager": True})
        logins[f"信息员 ({station.name})"] = staff.username
    agronomist = _user("agronomist01", Role.AGRONOMIST, "农技站 刘工")
    county_staff = _user("county01", Role.COUNTY_STAFF, "双阳区农业农村局")
    for u in (agronomist, county_staff):
        CountyAssignment.objects.get_or_create(county=county, user=u)
    logins["农技人员 agronomist"] = agronomist.username
    logins["县级管理员 county staff"] = county_staff.username
    buyer = _user("buyer01", Role.CITY_BUYER, "长春市民 赵女士", email="buyer01@example.com")
    logins["城市采购商 city buyer"] = buyer.username

    # Farmer households: spread over stations, stable phone numbers.
    existing = Household.objects.filter(station__county=county).count()
    if existing < households:
        rng_h = random.Random(seed + 1)
        to_create = []
        for i in range(households):
            station = stations[i % len(stations)]
            name = _name(rng_h)
            area = Decimal(str(rng_h.choice([8, 12, 15, 20, 25, 30, 45, 60, 80])))
            if i < existing:
                continue
            to_create.append(
                Household(
                    station=station,
                    village=station.village,
                    name=name,
                    phone=f"13{rng_h.randint(0, 9)}{i:08d}"[:11],
                    farm_area_mu=area,
                    credit_limit=Decimal("0") if i % 5 else Decimal("2000.00"),
                )
            )
        Household.objects.bulk_create(to_create)
    farmer = _user("farmer01", Role.FARMER, "")
    first_household = Household.objects.filter(station=stations[0]).order_by("pk").first()
    if first_household and first_household.user_id is None:
        first_household.user = farmer
        first_household.save(update_fields=["user"])
        farmer.display_name = first_household.name
        farmer.save(update_fields=["display_name"])
    logins["农户 farmer"] = farmer.username

    # Partners and catalogue.
    Partner = get_model("partner", "Partner")
    classes = ensure_product_types()
    suppliers = []
    for i, (name, credit_code) in enumerate(SUPPLIERS, start=1):
        partner, _ = Partner.objects.update_or_create(
            code=f"supplier-{i:02d}",
            defaults={
                "name": name,
                "kind": PartnerKind.SUPPLIER,
                "verification_status": VerificationStatus.APPROVED,
                "contact_phone": f"0431-8{i:03d}0000",
                **_onboarding(name, credit_code, i),
            },
        )
        _warehouse(partner, i)
        suppliers.append(partner)
    coops = []
    for i, name in enumerate(COOPERATIVES, start=1):
        partner, _ = Partner.objects.update_or_create(
            code=f"coop-{i:02d}",
            defaults={
                "name": name,
                "kind": PartnerKind.COOPERATIVE,
                "verification_status": VerificationStatus.APPROVED,
                **_onboarding(name, f"93220112MA0Y{i:05d}X", 20 + i),
            },
        )
        _warehouse(partner, 20 + i)
        coops.append(partner)
    supplier_user = _user("supplier01", Role.SUPPLIER, "农资集团 销售部", is_staff=False)
    suppliers[0].users.add(supplier_user)
    logins["供应商 supplier"] = supplier_user.username
    coop_user = _user("coop01", Role.COOPERATIVE, "鹿乡合作社 理事长")
    coops[0].users.add(coop_user)
    logins["合作社 cooperative"] = coop_user.username
    # Demo partners are created approved (no review transition), so grant what approval grants:
    # Oscar's partner-restricted dashboard (/shop/dashboard/, 供应商中心 menu).
    from marketplace.apps.partner.services import _dashboard_permission

    dashboard_access = _dashboard_permission()
    supplier_user.user_permissions.add(dashboard_access)
    coop_user.user_permissions.add(dashboard_access)

    n_products = 0
    rng_p = random.Random(seed + 2)
    fert_suppliers = [suppliers[0], suppliers[1], suppliers[2], suppliers[7]]
    for j, (title, n, p, k, cl, bag, price) in enumerate(FERTILIZERS):
        attrs = {
            "n_pct": float(n),
            "p2o5_pct": float(p),
            "k2o_pct": float(k),
            "chloride_class": cl,
            "form": "颗粒",
            "bag_kg": float(bag),
            "registration_no": f"吉农肥(2024)准字{1000 + j}号",
        }
        for s_i, supplier in enumerate(fert_suppliers):
            if (j + s_i) % 2 and s_i:
                continue
            factor = Decimal(str(1 + rng_p.uniform(-0.06, 0.06))).quantize(Decimal("0.001"))
            _product(
                classes[FERTILIZER],
                title,
                f"FERT-{j + 1:02d}",
                supplier,
                f"{supplier.code}-F{j + 1:02d}",
                cny(Decimal(price) * factor),
                400 + rng_p.randint(0, 1600),
                attrs,
            )
            n_products += 1
    for j, (title, crop, variety, approval, germ, net, price) in enumerate(SEEDS):
        attrs = {
            "crop": crop,
            "variety": variety,
            "variety_approval_no": approval,
            "licence_no": f"C(吉)农种许字(2023)第{20 + j:04d}号",
            "germination_pct": float(germ),
            "net_content_kg": float(net),
        }
        for supplier in suppliers[3:5]:
            _product(
                classes[SEED],
                title,
                f"SEED-{j + 1:02d}",
                supplier,
                f"{supplier.code}-S{j + 1:02d}",
                Decimal(price),
                100 + rng_p.randint(0, 400),
                attrs,
            )
            n_products += 1
    for j, (title, ai, tox, restricted, net, price) in enumerate(PESTICIDES):
        attrs = {
            "registration_no": f"PD2019{1000 + j}",
            "active_ingredient": ai,
            "toxicity": tox,
            "restricted_use": restricted,
            "net_content": net,
        }
        _product(
            classes[PESTICIDE],
            title,
            f"PEST-{j + 1:02d}",
            suppliers[5],
            f"{suppliers[5].code}-P{j + 1:02d}",
            Decimal(price),
            200 + rng_p.randint(0, 300),
            attrs,
        )
        n_products += 1
    for j, (title, spec, price) in enumerate(SUPPLIES):
        _product(
            classes[FARM_SUPPLY],
            title,
            f"SUP-{j + 1:02d}",
            suppliers[6],
            f"{suppliers[6].code}-G{j + 1:02d}",
            Decimal(price),
            50 + rng_p.randint(0, 100),
            {"spec": spec},
        )
        n_products += 1
    for j, (title, origin, grade, kg, price) in enumerate(PRODUCE_ITEMS):
        coop = coops[j % len(coops)]
        attrs = {
            "origin": f"吉林省长春市双阳区{origin}",
            "grade": grade,
            "harvest_date": date(2026, 10, 1 + j),
            "lot_code": f"SY2026-{j + 1:03d}",
            "net_weight_kg": float(kg),
        }
        _product(
            classes[PRODUCE],
            title,
            f"PROD-{j + 1:02d}",
            coop,
            f"{coop.code}-R{j + 1:02d}",
            Decimal(price),
            30 + rng_p.randint(0, 200),
            attrs,
        )
        n_products += 1

    _licences(suppliers, stations)
    logins["待审核供应商 pending supplier"] = _pending_supplier().username

    # Each installed plugin adds its own demo rows (the core never imports a plugin).
    from marketplace.core.extensions import DemoContext, plugins

    demo = DemoContext(
        county=county,
        stations=stations,
        suppliers=suppliers,
        cooperatives=coops,
        users={u.username: u for u in User.objects.filter(username__in=logins.values())},
        logins=logins,
        password=DEMO_PASSWORD,
        seed=seed,
    )
    for plugin in plugins():
        plugin.demo_data(demo)

    return DemoSummary(
        stations=len(stations),
        households=Household.objects.filter(station__county=county).count(),
        suppliers=len(suppliers),
        cooperatives=len(coops),
        products=n_products,
        logins=logins,
    )


def _product(product_class, title, upc, partner, sku, price, stock, attrs) -> None:
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    Category = get_model("catalogue", "Category")
    product = Product.objects.filter(upc=upc).first()
    if product is None:
        from marketplace.apps.catalogue.validation import validate_product

        # Demo products obey the same product rules as every other path (raises if one does not).
        attrs = validate_product({"product_type": product_class.slug, "title": title, "attributes": attrs})[
            "attributes"
        ]
        product = Product(upc=upc, title=title, product_class=product_class, structure=Product.STANDALONE)
        for code, value in attrs.items():
            setattr(product.attr, code, value)
        product.save()
        category = Category.objects.filter(name=product_class.name, depth=1).first()
        if category is None:
            category = Category.add_root(name=product_class.name)
        product.categories.add(category)
    StockRecord.objects.update_or_create(
        partner=partner,
        partner_sku=sku,
        defaults={
            "product": product,
            "price": price,
            "price_currency": "CNY",
            "num_in_stock": stock,
            "warehouse": partner.warehouses.order_by("code").first(),
        },
    )


def _onboarding(name: str, credit_code: str, i: int) -> dict:
    """Registration data with a GB 32100-2015-valid credit code (check character recomputed)."""
    from marketplace.apps.partner.credit_code import make_credit_code

    return {
        "credit_code": make_credit_code(credit_code[:17]),
        "legal_representative": [
            "王建国",
            "李志明",
            "张玉华",
            "刘春生",
            "陈德成",
            "杨国庆",
            "赵宝山",
            "孙有福",
        ][i % 8],
        "contact_name": "业务联系人",
        "contact_mobile": f"1390431{i:04d}",
        "bank_name": "中国农业银行长春双阳支行",
        "bank_account_name": name,
        "bank_account_number": f"0712010104{i:06d}",
    }


def _warehouse(partner, i: int) -> None:
    """One warehouse per partner, spread deterministically within ~25 km of 双阳区."""
    Warehouse = get_model("partner", "Warehouse")
    rng = random.Random(9000 + i)
    lat = Decimal(str(round(CENTER[0] + rng.uniform(-0.2, 0.2), 6)))
    lon = Decimal(str(round(CENTER[1] + rng.uniform(-0.25, 0.25), 6)))
    Warehouse.objects.update_or_create(
        partner=partner,
        code="WH1",
        defaults={
            "name": f"{partner.name[:20]}仓库",
            "address": "吉林省长春市双阳区",
            "latitude": lat,
            "longitude": lon,
        },
    )


def _licences(suppliers, stations) -> None:
    """Licences so every demo product is sellable; the check task then confirms it."""
    from marketplace.apps.catalogue.compliance import enforce_licences
    from marketplace.apps.partner.models import LicenceKind, PartnerLicence
    from marketplace.stations.models import StationPesticideLicence

    Product = get_model("catalogue", "Product")
    start, end = date(2024, 1, 1), date(2030, 12, 31)

    def licence(partner, kind, number, product=None, restricted=False):
        PartnerLicence.objects.update_or_create(
            partner=partner,
            kind=kind,
            number=number,
            defaults={
                "product": product,
                "restricted_scope": restricted,
                "valid_from": start,
                "valid_until": end,
            },
        )

    licence(suppliers[5], LicenceKind.PESTICIDE_BUSINESS, "农药经许(吉)22011200001", restricted=True)
    for n, supplier in enumerate(suppliers[3:5], start=1):
        licence(supplier, LicenceKind.SEED_BUSINESS, f"C(吉)农种许字(2023)第{n:04d}号")
    for product in (
        Product.objects.filter(upc__startswith="FERT-").prefetch_related("stockrecords").order_by("upc")
    ):
        record = min(product.stockrecords.all(), key=lambda r: r.partner_id)
        licence(
            record.partner, LicenceKind.FERTILIZER_REGISTRATION, f"吉农肥(2024)准字{product.upc}", product
        )
    StationPesticideLicence.objects.update_or_create(
        station=stations[0],
        number="农药经许(吉)22011200101",
        defaults={"restricted_scope": True, "valid_from": start, "valid_until": end},
    )
    enforce_licences(notify=False, today=date(2026, 3, 1))


def _pending_supplier() -> User:
    """A business that signed up and waits for review (licence scans attached), so the operator's
    queue is not empty. Created once: an operator's decision on it survives running the demo again."""
    from django.core.files.base import ContentFile

    from marketplace.apps.partner.models import LicenceKind, PartnerLicence, PartnerStatusChange
    from marketplace.core.documents import render_pdf

    Partner = get_model("partner", "Partner")
    name = "松原春禾农资有限公司"
    partner, created = Partner.objects.get_or_create(
        code="supplier-signup-01",
        defaults={
            "name": name,
            "kind": PartnerKind.SUPPLIER,
            "verification_status": VerificationStatus.PENDING,
            **_onboarding(name, "91220700MA0Y00031", 31),
        },
    )
    user = _user("supplier02", Role.SUPPLIER, "春禾农资 刘经理", phone="13904310031")
    partner.users.add(user)
    if created:
        PartnerStatusChange.objects.create(
            partner=partner, to_status=VerificationStatus.PENDING, reason="申请入驻"
        )
    scans = (
        (LicenceKind.BUSINESS_LICENCE, partner.credit_code, date(2021, 3, 15), date(2041, 3, 14)),
        (LicenceKind.PESTICIDE_BUSINESS, "农药经许(吉)22070200031", date(2025, 1, 1), date(2029, 12, 31)),
    )
    for kind, number, start, end in scans:
        licence, _ = PartnerLicence.objects.get_or_create(
            partner=partner, kind=kind, number=number, defaults={"valid_from": start, "valid_until": end}
        )
        if not licence.file:
            pdf = render_pdf(
                "documents/demo_licence.html",
                {
                    "kind": licence.get_kind_display(),
                    "number": number,
                    "partner": partner,
                    "valid_from": start,
                    "valid_until": end,
                },
            )
            licence.file.save(f"demo-{partner.code}-{kind}.pdf", ContentFile(pdf), save=True)
    return user
