"""The shared active-model file: atomic writes, cheap re-reads, tolerant of damage."""

import os

from tabserve.store.state import ActiveModelFile


def test_nothing_chosen_reads_none(tmp_path):
    assert ActiveModelFile(tmp_path, "penguins").read() is None


def test_a_choice_is_seen_by_another_reader(tmp_path):
    writer, reader = ActiveModelFile(tmp_path, "penguins"), ActiveModelFile(tmp_path, "penguins")
    writer.write("penguins_svm:abc")
    assert reader.read() == "penguins_svm:abc"
    writer.write("penguins_knn:def")
    assert reader.read() == "penguins_knn:def"


def test_writes_leave_no_temporary_files(tmp_path):
    state = ActiveModelFile(tmp_path, "penguins")
    for n in range(20):
        state.write(f"penguins_knn:{n}")
    assert os.listdir(tmp_path) == ["active-penguins.json"]


def test_a_damaged_file_reads_as_no_choice(tmp_path):
    state = ActiveModelFile(tmp_path, "penguins")
    state.path.write_text("{not json")
    assert state.read() is None


def test_datasets_do_not_share_a_choice(tmp_path):
    ActiveModelFile(tmp_path, "penguins").write("penguins_svm:abc")
    assert ActiveModelFile(tmp_path, "breast_cancer").read() is None
