"""The gallery panel: enrolled classes with example counts; rename, delete, export, import."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class GalleryPanel(QWidget):
    """Thin view over a :class:`demo.store.GalleryStore`; emits ``changed`` after every edit."""

    changed = pyqtSignal()

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self.title = QLabel("Gallery")
        self.title.setStyleSheet("font-weight: bold")
        self.list = QListWidget()
        self.list.setAccessibleName("gallery classes")
        self.rename_button = QPushButton("Re&name…")
        self.delete_button = QPushButton("&Delete")
        self.export_button = QPushButton("E&xport…")
        self.import_button = QPushButton("&Import…")
        self.starter_button = QPushButton("Remove &starter examples")
        self.rename_button.clicked.connect(self.rename_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.export_button.clicked.connect(self.export_gallery)
        self.import_button.clicked.connect(self.import_gallery)
        self.starter_button.clicked.connect(self.remove_starter)
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        row1.addWidget(self.rename_button)
        row1.addWidget(self.delete_button)
        row2.addWidget(self.export_button)
        row2.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.starter_button)
        self.refresh()

    def refresh(self) -> None:
        current = self.selected_name()
        self.list.clear()
        for info in self.store.classes():
            text = f"{info.name}  ({info.count} example{'s' if info.count != 1 else ''})"
            if info.starter:
                text += "  [starter]"
            if info.background:
                text += "  [idle: never shown]"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            self.list.addItem(item)
            if info.name == current:
                self.list.setCurrentItem(item)
        self.title.setText(f"Gallery: {self.list.count()} classes")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.selected_name() is not None
        self.rename_button.setEnabled(has)
        self.delete_button.setEnabled(has)
        self.starter_button.setEnabled(self.store.has_starter())

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _run(self, action, *args) -> bool:
        try:
            action(*args)
        except (ValueError, KeyError, OSError) as exc:
            QMessageBox.warning(self, "Gallery", str(exc))
            return False
        self.refresh()
        self.changed.emit()
        return True

    def rename_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        new, ok = QInputDialog.getText(self, "Rename class", f"New name for “{name}”:", text=name)
        if ok and new.strip() and new.strip() != name:
            self._run(self.store.rename, name, new.strip())

    def delete_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        answer = QMessageBox.question(self, "Delete class", f"Delete “{name}” and all its examples?")
        if answer == QMessageBox.StandardButton.Yes:
            self._run(self.store.remove, name)

    def remove_starter(self) -> None:
        answer = QMessageBox.question(
            self, "Starter examples", "Remove the starter classes that came with the app?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._run(self.store.remove_starter)

    def set_either_hand(self, on: bool) -> None:
        self._run(self.store.set_either_hand, on)

    def export_gallery(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export gallery to an empty folder")
        if path:
            self._run(self.store.export, path)

    def import_gallery(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a gallery folder")
        if path:
            self._run(self.store.import_gallery, path)
