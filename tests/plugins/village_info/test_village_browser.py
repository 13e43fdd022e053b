"""The village information journey in Debian's Chromium at 360 px, through the pages only:
county staff publish a notice and a survey; station staff read the notice, print the wall sheet,
confirm it is posted and record a household's plan; the county sees the totals; a farmer's question
is asked by the station and answered by the agronomist."""

from __future__ import annotations

import os

import pytest
from browserkit import fits, login, phone_context

from plugins.village_info.models import NoticeReceipt, Question, SurveyAnswer

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def session(browser, base: str, username: str):
    page = phone_context(browser).new_page()
    weights: list[int] = []
    page.on(
        "response",
        lambda r: weights.append(len(r.body()))
        if r.ok and r.request.method == "GET" and not r.url.endswith(".pdf")
        else None,
    )
    login(page, base, username)
    return page, weights


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_notice_survey_and_question_through_the_pages(
    live_server, browser, county_staff, county, station_a, station_b, staff_a, household_a, agronomist
):
    base = live_server.url
    # County staff publish a notice to the county and open a survey.
    county_page, county_weights = session(browser, base, "county_a")
    county_page.goto(base + "/p/info/notices/new/")
    fits(county_page)
    county_page.fill("#title", "春耕测土配方施肥要点")
    county_page.select_option("#kind", "guidance")
    county_page.fill("#body", "底肥亩施配方肥40公斤，拔节期追施尿素15公斤。")
    county_page.select_option("#counties", str(county.pk))
    county_page.click("main button[type=submit]")
    county_page.wait_for_selector("text=送达站点")
    fits(county_page)
    county_page.goto(base + "/p/info/surveys/new/")
    county_page.fill("#title", "2027年春耕种植意向调查")
    county_page.fill("#season", "2027年春播")
    county_page.fill("#closes_on", "2099-12-31")
    county_page.fill("#crops", "玉米，大豆")
    county_page.click("main button[type=submit]")
    county_page.wait_for_selector("text=按地区汇总")
    survey_url = county_page.url

    # Station staff see the notice on their home page, read it, print it, confirm it is posted.
    staff, staff_weights = session(browser, base, "staff_a")
    assert "春耕测土配方施肥要点" in staff.inner_text("main")
    fits(staff)
    staff.click("text=春耕测土配方施肥要点")
    staff.wait_for_selector("text=确认已张贴")
    fits(staff)
    with staff.expect_response(lambda r: r.url.endswith("/sheet.pdf")) as sheet:
        staff.evaluate("url => fetch(url)", staff.get_attribute("text=打印张贴版（A4）", "href"))
    assert sheet.value.status == 200 and sheet.value.body()[:4] == b"%PDF"
    staff.click("text=确认已张贴")
    staff.wait_for_selector("text=已确认张贴")
    receipt = NoticeReceipt.objects.get(station=station_a)
    assert receipt.read_at and receipt.posted_at

    # … record a household's planting plan (taken by phone) …
    staff.goto(survey_url)
    fits(staff)
    staff.click(f"a[href$='/households/{household_a.pk}/']")
    staff.fill("input[name^=area_] >> nth=0", "22.5")
    staff.fill("input[name^=fert_] >> nth=0", "950")
    staff.click("main button[type=submit]")
    staff.wait_for_selector("text=已登记")
    assert SurveyAnswer.objects.get(household=household_a).area_mu == 22.5

    # … and ask the county's agronomist a farmer's question.
    staff.goto(base + "/p/info/questions/new/")
    fits(staff)
    staff.select_option("#household", str(household_a.pk))
    staff.fill("#crop", "玉米")
    staff.select_option("#topic", "pest")
    staff.fill("#text", "玉米苗叶片出现白色条纹")
    staff.click("main button[type=submit]")
    staff.wait_for_selector("text=等待县农技专家解答")

    # The county sees the survey totals and the receipt.
    county_page.goto(survey_url + "?level=county")
    assert "22.5" in county_page.inner_text("main")
    fits(county_page)

    # The agronomist answers; the station sees the answer.
    agro, agro_weights = session(browser, base, "agro")
    agro.goto(base + "/p/info/questions/")
    agro.click("text=玉米 · 病虫害")
    agro.fill("#text", "疑似粗缩病，及时拔除病株。")
    agro.click("main button[type=submit]")
    agro.wait_for_selector("text=解答已发送到站点")
    fits(agro)
    staff.goto(base + f"/p/info/questions/{Question.objects.get().pk}/")
    assert "疑似粗缩病" in staff.inner_text("main")

    # Light pages: every page (HTML or stylesheet) above stays far below a few hundred KB.
    for weights in (county_weights, staff_weights, agro_weights):
        assert max(weights) < 60_000, max(weights)
