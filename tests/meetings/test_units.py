"""Administrative units: which parent each kind accepts, codes, listing and ancestors."""

import pytest
from sqlalchemy.exc import IntegrityError

from meetings import units
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Unit, UnitKind


async def test_province_district_commune_tree(session):
    province = await units.create_unit(
        session, None, "  Tỉnh Quảng Ninh ", UnitKind.PROVINCE, None, "QN"
    )
    district = await units.create_unit(
        session, None, "Huyện Ba Chẽ", UnitKind.DISTRICT, province.id, None
    )
    commune = await units.create_unit(
        session, None, "Xã Thanh Sơn", UnitKind.COMMUNE, district.id, None
    )
    direct = await units.create_unit(
        session, None, "Xã Quảng La", UnitKind.COMMUNE, province.id, None
    )

    assert province.id is not None and province.parent_id is None
    assert province.name == "Tỉnh Quảng Ninh"  # trimmed
    assert (province.kind, district.kind, commune.kind) == ("province", "district", "commune")
    assert district.parent_id == province.id
    assert commune.parent_id == district.id
    # Since the 2025 reform a commune may hang directly under its province.
    assert direct.parent_id == province.id


@pytest.mark.parametrize(
    ("kind", "parent_kind"),
    [
        (UnitKind.PROVINCE, UnitKind.PROVINCE),
        (UnitKind.PROVINCE, UnitKind.DISTRICT),
        (UnitKind.DISTRICT, None),
        (UnitKind.DISTRICT, UnitKind.DISTRICT),
        (UnitKind.DISTRICT, UnitKind.COMMUNE),
        (UnitKind.COMMUNE, None),
        (UnitKind.COMMUNE, UnitKind.COMMUNE),
    ],
)
async def test_a_unit_needs_a_parent_of_a_fitting_kind(session, kind, parent_kind):
    parent_id = None
    if parent_kind is not None:
        province = await units.create_unit(session, None, "P", UnitKind.PROVINCE, None, None)
        district = await units.create_unit(session, None, "D", UnitKind.DISTRICT, province.id, None)
        commune = await units.create_unit(session, None, "C", UnitKind.COMMUNE, district.id, None)
        parent_id = {
            UnitKind.PROVINCE: province.id,
            UnitKind.DISTRICT: district.id,
            UnitKind.COMMUNE: commune.id,
        }[parent_kind]
    before = len(await units.list_units(session))
    with pytest.raises(InvalidInput):
        await units.create_unit(session, None, "X", kind, parent_id, None)
    assert len(await units.list_units(session)) == before


async def test_unknown_parent_is_invalid(session):
    with pytest.raises(InvalidInput) as err:
        await units.create_unit(session, None, "Xã", UnitKind.COMMUNE, 4242, None)
    assert err.value.details == {"parent_id": 4242}


async def test_codes_are_unique_in_the_service_and_in_the_database(sessions):
    async with sessions() as s:
        await units.create_unit(s, None, "Tỉnh Quảng Ninh", UnitKind.PROVINCE, None, "QN")
        with pytest.raises(Conflict):
            await units.create_unit(s, None, "Tỉnh khác", UnitKind.PROVINCE, None, "QN")
        # Units without a code never collide.
        await units.create_unit(s, None, "Tỉnh A", UnitKind.PROVINCE, None, None)
        await units.create_unit(s, None, "Tỉnh B", UnitKind.PROVINCE, None, None)
        await s.commit()
    async with sessions() as s:
        s.add(Unit(name="Bypassing the service", kind="province", code="QN"))
        with pytest.raises(IntegrityError):
            await s.flush()


async def test_get_and_list_units(session, org):
    unit = await units.get_unit(session, org.commune)
    assert unit.name == "Xã Thanh Sơn" and unit.parent_id == org.district
    with pytest.raises(NotFound):
        await units.get_unit(session, 999_999)

    listed = await units.list_units(session)
    assert len(listed) == 7
    roots = [u for u in listed if u.parent_id is None]
    assert {u.id for u in roots} == {org.province, org.other_province}
    assert listed[: len(roots)] == roots  # roots come first


async def test_ancestor_ids_walk_up_to_the_root(session, org):
    assert await units.ancestor_ids(session, org.commune) == [
        org.commune,
        org.district,
        org.province,
    ]
    assert await units.ancestor_ids(session, org.direct) == [org.direct, org.province]
    assert await units.ancestor_ids(session, org.district) == [org.district, org.province]
    assert await units.ancestor_ids(session, org.province) == [org.province]
    assert await units.ancestor_ids(session, org.other_commune) == [
        org.other_commune,
        org.other_province,
    ]
