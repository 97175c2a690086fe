"""The user's phenotype and covariate tables: formats, sample matching, missing values."""

import io

import numpy as np
import pandas as pd
import pytest

from sparselmm.tables import (Samples, TableError, align, drop_incomplete, layout,
                              prepare_phenotypes, read_sample_table, redundant_columns,
                              value_columns)

IIDS = ["s1", "s2", "s3", "s4"]
SAME = {  # one table, as people save it
    "p.tsv": "iid\theight\tbmi\ns1\t1.5\t20\ns2\tNA\t21\ns3\t1.7\t\ns4\t1.8\t23\n",
    "p.csv": "iid,height,bmi\r\ns1,1.5,20\r\ns2,NA,21\r\ns3,1.7,\r\ns4,1.8,23\r\n",
    "p.pheno": "FID IID height bmi\ns1 s1 1.5 20\ns2 s2 -9 21\ns3 s3 1.7 NA\ns4 s4 1.8 23\n",
    "p.psam": "#FID\tIID\tSEX\theight\tbmi\ns1\ts1\t1\t1.5\t20\ns2\ts2\t2\t-9\t21\n"
              "s3\ts3\t1\t1.7\tNA\ns4\ts4\t2\t1.8\t23\n",
    "p2.psam": "#IID  PAT MAT SEX height   bmi\ns1 0 0 1 1.5 20\ns2 0 0 2 NA 21\n"
               "s3 0 0 1 1.7 -9\ns4 0 0 2 1.8 23\n",
    # tab-separated PLINK layout with empty cells (missing, as in a delimited table)
    "p3.psam": "#FID\tIID\tSEX\theight\tbmi\ns1\ts1\t1\t1.5\t20\ns2\ts2\t2\t\t21\n"
               "s3\ts3\t1\t1.7\t\ns4\ts4\t2\t1.8\t23\n",
}


@pytest.mark.parametrize("name", list(SAME))
def test_every_accepted_layout_reads_the_same(tmp_path, name):
    path = tmp_path / name
    path.write_text(SAME[name])
    assert value_columns(path) == ["height", "bmi"]
    table = align(read_sample_table(path), Samples(IIDS, IIDS), path)
    expected = pd.DataFrame({"height": [1.5, np.nan, 1.7, 1.8], "bmi": [20, 21, np.nan, 23.0]},
                            index=pd.Index(IIDS, name="iid"))
    pd.testing.assert_frame_equal(table, expected)


def test_sex_is_a_covariate_but_not_a_phenotype(tmp_path):
    path = tmp_path / "p.psam"
    path.write_text(SAME["p.psam"])
    assert value_columns(path, "covariate") == ["SEX", "height", "bmi"]
    assert list(read_sample_table(path, "covariate").columns) == ["fid", "iid", "SEX", "height",
                                                                  "bmi"]


def test_minus_nine_is_a_value_in_a_delimited_table(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("iid\tscore\ns1\t-9\ns2\t3\n")
    assert read_sample_table(path)["score"].tolist() == [-9.0, 3.0]


@pytest.mark.parametrize(
    "text,message",
    [
        ("sample\theight\ns1\t1\n", "line 1: expected a header line with an 'iid' column"),
        ("s1 s1 1.5\ns2 s2 1.6\n", "line 1: expected a header line"),  # PLINK 1 without header
        ("", "the file is empty"),
        ("iid\theight\n", "a header but no samples"),
        ("iid\theight\ns1\t1.5\ns2\t1.6\t7\n", "line 3: 3 fields where the header has 2"),
        ("FID IID height\nf1 s1\n", "line 2: 2 fields where the header has 3"),
        ("iid\theight\ns1\t1.5\ns2\ttall\n",
         "line 3: non-numeric phenotype value 'tall' in column 'height' for sample 's2'"),
        ("iid\theight\theight\ns1\t1\t2\n", "column 'height' appears twice in the header"),
        ("FID IID h\nf s1 1\nf s1 2\n", "line 3: sample 'f s1' appears twice"),
    ],
)
def test_unreadable_tables_are_named_with_the_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(TableError, match=message) as err:
        read_sample_table(path)
    assert str(path) in str(err.value)


def test_binary_file_is_refused_by_name(tmp_path):
    path = tmp_path / "p.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\xff\xfe\x00\x00")
    with pytest.raises(TableError, match="p.xlsx: not a text table"):
        layout(path)


def test_repeated_iids_are_matched_on_fid_and_iid(tmp_path):
    fam = Samples(["A", "A", "B", "B"], ["kid", "mum", "kid", "mum"], "x.fam")
    assert fam.keys == ["A kid", "A mum", "B kid", "B mum"]
    path = tmp_path / "p.pheno"
    path.write_text("FID IID y\nB kid 3\nA kid 1\nA mum 2\nC kid 9\n")
    log = io.StringIO()
    table = align(read_sample_table(path), fam, path, log=log)
    assert table["y"].to_dict() == {"B kid": 3.0, "A kid": 1.0, "A mum": 2.0}
    assert "1 of 4 samples are not in x.fam" in log.getvalue()
    tsv = tmp_path / "p.tsv"
    tsv.write_text("iid\ty\nkid\t1\nmum\t2\n")
    with pytest.raises(TableError, match="repeats IID 'kid' \\(families 'A', 'B'\\).*no FID column"):
        align(read_sample_table(tsv), fam, tsv)


def test_a_fid_that_disagrees_with_the_fam_is_an_error(tmp_path):
    path = tmp_path / "p.pheno"
    path.write_text("FID IID y\ns1 s1 1\nfamX s2 2\n")
    with pytest.raises(TableError, match="sample 's2' has FID 'famX' here but 's2' in x.fam"):
        align(read_sample_table(path), Samples(IIDS, IIDS, "x.fam"), path)


def test_no_sample_in_common_names_both_files(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("iid\ty\nq\t1\nr\t2\n")
    with pytest.raises(TableError, match="no sample ID in common with x.fam"):
        align(read_sample_table(path), Samples(IIDS, IIDS, "x.fam"), path)


def test_samples_with_a_missing_covariate_are_left_out_and_counted():
    table = pd.DataFrame({"age": [30, np.nan, 50, np.nan], "sex": [1, 2, np.nan, 1.0]},
                         index=pd.Index(IIDS, name="iid"))
    log = io.StringIO()
    kept = drop_incomplete(table, "c.tsv", log=log)
    assert list(kept.index) == ["s1"]
    text = log.getvalue()
    assert "column 'age': 2 sample(s) with a missing covariate value left out (first: 's2', 's4')" \
        in text
    assert "column 'sex': 1 sample(s)" in text and "3 sample(s) left out" in text


def test_redundant_covariates_are_named():
    rng = np.random.default_rng(1)
    pc = rng.normal(size=(50, 2))
    age = rng.normal(40, 10, 50)
    Z = np.column_stack([pc, age, age, np.full(50, 3.0), 2 * age - pc[:, 1] + 5, rng.normal(size=50)])
    names = ["PC1", "PC2", "age", "age_copy", "batch", "mix", "ok"]
    assert redundant_columns(Z, names, 2) == [
        ("age_copy", "a linear combination of 'age'"),
        ("batch", "constant (3)"),
        ("mix", "a linear combination of the intercept, 'PC2', 'age'"),
    ]
    assert redundant_columns(Z[:, [0, 1, 2, 6]], ["PC1", "PC2", "age", "ok"], 2) == []


def test_prepare_phenotypes_writes_the_checked_table_in_fam_order(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("iid,note,y\ns4,tall,4\ns2,short,2\nstranger,x,9\ns1,,1\ns3,ok,NA\ns5,,5\n")
    out = tmp_path / "checked.tsv"
    log = io.StringIO()
    fam = Samples(IIDS + ["s5"], IIDS + ["s5"])
    assert prepare_phenotypes(path, fam, ["y"], 2, out, log) == ["y"]
    checked = pd.read_csv(out, sep="\t")
    assert checked["iid"].tolist() == ["s1", "s2", "s3", "s4", "s5"]
    assert checked["y"].tolist()[:2] == [1.0, 2.0] and np.isnan(checked["y"][2])
    assert "phenotype 'y': 1 genotyped sample(s) with a missing value" in log.getvalue()
    with pytest.raises(TableError, match="non-numeric phenotype value 'tall' in column 'note'"):
        prepare_phenotypes(path, fam, "all", 2, out)
