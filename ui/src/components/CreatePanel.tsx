// A create form in a side panel, opened by a button, rather than a long form always open
// above the list it adds to. On a phone the panel takes the whole screen.
import { Button, Drawer } from "@mantine/core";
import { useMediaQuery } from "@mantine/hooks";
import { IconPlus } from "@tabler/icons-react";
import type { ReactNode } from "react";

export function CreatePanel({ label, opened, onOpen, onClose, children }: { label: string; opened: boolean; onOpen: () => void; onClose: () => void; children: ReactNode }) {
  const phone = useMediaQuery("(max-width: 48em)");
  return (
    <>
      <Button leftSection={<IconPlus size={16} />} onClick={onOpen} mb="md">
        {label}
      </Button>
      <Drawer opened={opened} onClose={onClose} title={label} position="right" size={phone ? "100%" : "lg"} closeButtonProps={{ "aria-label": label }}>
        {children}
      </Drawer>
    </>
  );
}
